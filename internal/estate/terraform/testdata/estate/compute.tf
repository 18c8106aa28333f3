resource "aws_ecs_task_definition" "shop" {
  family        = "shop"
  task_role_arn = aws_iam_role.task.arn
  container_definitions = jsonencode([
    {
      name  = "shop"
      image = "ghcr.io/acme/shop:1.4.2"
      environment = [
        { name = "API_TOKEN", value = "plain-token-value" },
        { name = "REGION", value = var.region },
      ]
      secrets = [
        { name = "DB_PASSWORD", valueFrom = aws_secretsmanager_secret.db.arn },
      ]
    },
    {
      name  = "proxy"
      image = "nginx:1.25"
    },
  ])
}

resource "aws_iam_role" "task" {
  name = "shop-task"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
  })
}

resource "aws_ecs_service" "shop" {
  name            = "shop"
  task_definition = aws_ecs_task_definition.shop.arn
  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "shop"
    container_port   = 8080
  }
  network_configuration {
    security_groups  = [aws_security_group.web.id]
    assign_public_ip = false
  }
}

resource "aws_codebuild_project" "build" {
  name         = "shop-build"
  service_role = aws_iam_role.ci.arn
  environment {
    compute_type = "BUILD_GENERAL1_SMALL"
    image        = "aws/codebuild/standard:7.0"
    type         = "LINUX_CONTAINER"
    environment_variable {
      name  = "NPM_TOKEN"
      value = "npm-plaintext-token"
    }
    environment_variable {
      name  = "DOCKER_PASSWORD"
      value = "/ci/docker"
      type  = "PARAMETER_STORE"
    }
    environment_variable {
      name  = "STAGE"
      value = "prod"
    }
  }
  source {
    type     = "GITHUB"
    location = "https://github.com/Acme/Shop.git"
  }
}
