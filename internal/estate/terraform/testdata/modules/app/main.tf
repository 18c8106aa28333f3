# A configuration that calls a local module and a registry one. Written
# for ctem's tests.
# Declared first, it uses the output of a module declared after it.
module "reader_role" {
  source  = "../role"
  name    = "reader"
  trusted = module.deploy_role.arn
}

module "deploy_role" {
  source     = "../role"
  name       = "deploy"
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
  trusted    = aws_iam_user.ci.arn
}

module "off" {
  source = "../role"
  count  = 0
  name   = "never"
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.0.0"
}

resource "aws_iam_user" "ci" {
  name = "ci"
}

resource "aws_iam_user_policy" "ci" {
  name = "assume"
  user = aws_iam_user.ci.name
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Resource = module.deploy_role.arn }]
  })
}
