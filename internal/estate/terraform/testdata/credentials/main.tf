# Credentials that Terraform writes into places. Written for ctem's tests.
resource "aws_iam_user" "deploy" {
  name = "deploy"
}

resource "aws_iam_access_key" "deploy" {
  user = aws_iam_user.deploy.name
}

resource "random_password" "db" {
  length = 24
}

resource "aws_db_instance" "orders" {
  identifier = "orders"
  engine     = "postgres"
  password   = random_password.db.result
}

resource "aws_codebuild_project" "release" {
  name         = "release"
  service_role = "arn:aws:iam::111122223333:role/codebuild"
  environment {
    compute_type = "BUILD_GENERAL1_SMALL"
    image        = "aws/codebuild/standard:7.0"
    type         = "LINUX_CONTAINER"
    environment_variable {
      name  = "AWS_SECRET_ACCESS_KEY"
      value = aws_iam_access_key.deploy.secret
    }
    environment_variable {
      name  = "DB_PASSWORD"
      type  = "PARAMETER_STORE"
      value = "/orders/db-password"
    }
  }
}

resource "aws_ecs_task_definition" "api" {
  family = "api"
  container_definitions = jsonencode([{
    name        = "api"
    image       = "ghcr.io/acme/api:1.0"
    environment = [{ name = "DATABASE_PASSWORD", value = random_password.db.result }]
  }])
}

resource "aws_ecs_service" "api" {
  name            = "api"
  task_definition = aws_ecs_task_definition.api.arn
}

resource "aws_secretsmanager_secret" "db" {
  name = "orders-db"
}

resource "aws_secretsmanager_secret_version" "db" {
  secret_id     = aws_secretsmanager_secret.db.id
  secret_string = jsonencode({ username = "app", password = aws_db_instance.orders.password })
}

resource "aws_lambda_function" "report" {
  function_name = "report"
  handler       = "index.handler"
  runtime       = "python3.12"
  environment {
    variables = { MODE = "daily", TABLE = "orders" }
  }
}
