resource "aws_iam_group" "developers" {
  name = "developers"
}

resource "aws_iam_user" "alice" {
  name = "alice"
}

resource "aws_iam_group_membership" "developers" {
  name  = "developers"
  group = aws_iam_group.developers.name
  users = [aws_iam_user.alice.name, aws_iam_user.deployer.name]
}

resource "aws_iam_user_group_membership" "deployer" {
  user   = aws_iam_user.deployer.name
  groups = [aws_iam_group.admins.name]
}

resource "aws_iam_group" "admins" {
  name = "admins"
}

resource "aws_iam_group_policy_attachment" "admins" {
  group      = aws_iam_group.admins.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}

resource "aws_iam_group_policy" "developers" {
  name  = "dev"
  group = aws_iam_group.developers.id
  policy = <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:Get*", "s3:ListBucket"], "Resource": ["arn:aws:s3:::customer-data", "arn:aws:s3:::customer-data/*"]},
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-db-AbCdEf"},
    {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"}
  ]
}
POLICY
}

resource "aws_iam_policy" "lambda_data" {
  name   = "lambda-data"
  policy = data.aws_iam_policy_document.lambda_data.json
}

data "aws_iam_policy_document" "lambda_data" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.customer_data.arn}/*"]
  }
  statement {
    effect    = "Deny"
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.customer_data.arn}/*"]
  }
  statement {
    actions   = ["iam:PassRole"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy_attachment" "lambda_data" {
  role       = aws_iam_role.lambda.name
  policy_arn = aws_iam_policy.lambda_data.arn
}

resource "aws_iam_role_policy" "web" {
  name = "web"
  role = aws_iam_role.web.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", NotAction = ["iam:*"], Resource = "*" },
      { Effect = "Allow", Action = ["s3:ListBucket"], Resource = "arn:aws:s3:::shop-*" },
      { Effect = "Allow", Action = "kms:Decrypt", Resource = var.kms_key_arn },
    ]
  })
}

resource "aws_iam_user_policy" "alice" {
  name = "alice"
  user = aws_iam_user.alice.name
  policy = jsonencode({
    Statement = {
      Effect   = "Allow"
      Action   = "sts:AssumeRole"
      Resource = aws_iam_role.web.arn
    }
  })
}

resource "aws_iam_policy_attachment" "readonly" {
  name       = "readonly"
  users      = [aws_iam_user.alice.name]
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role" "ci" {
  name                = "ci"
  managed_policy_arns = ["arn:aws:iam::aws:policy/PowerUserAccess"]
  assume_role_policy = jsonencode({
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com" }
    }]
  })
  inline_policy {
    name = "ecr"
    policy = jsonencode({
      Statement = [{ Effect = "Allow", Action = "ecr:PutImage", Resource = "*" }]
    })
  }
}
