# Web tier: an internet-facing load balancer in front of two instances.
provider "aws" {
  region = var.region
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "admin_cidr" {
  type = string
}

locals {
  web_port = 443
  name     = "shop-${var.region}"
}

resource "aws_security_group" "web" {
  name = "web"
  ingress {
    from_port   = local.web_port
    to_port     = local.web_port
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.admin_cidr]
  }
}

resource "aws_security_group" "db" {
  name = "db"
}

resource "aws_security_group_rule" "ssh_open" {
  type              = "ingress"
  security_group_id = aws_security_group.web.id
  from_port         = 22
  to_port           = 22
  protocol          = "tcp"
  ipv6_cidr_blocks  = ["::/0"]
}

resource "aws_vpc_security_group_ingress_rule" "db_open" {
  security_group_id = aws_security_group.db.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 5432
  to_port           = 5432
  ip_protocol       = "tcp"
}

resource "aws_instance" "web" {
  ami                         = "ami-123"
  instance_type               = "t3.micro"
  vpc_security_group_ids      = [aws_security_group.web.id]
  associate_public_ip_address = true
  iam_instance_profile        = aws_iam_instance_profile.web.name
  tags = {
    Name = "${local.name}-web"
  }
}

resource "aws_instance" "worker" {
  ami                    = "ami-123"
  vpc_security_group_ids = [aws_security_group.web.id]
  associate_public_ip_address = false
  metadata_options {
    http_tokens = "required"
  }
}

resource "aws_iam_instance_profile" "web" {
  name = "web"
  role = aws_iam_role.web.name
}

resource "aws_iam_role" "web" {
  name = "web"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ec2.amazonaws.com" }
    }]
  })
}

resource "aws_lb" "front" {
  name               = "front"
  load_balancer_type = "application"
  security_groups    = [aws_security_group.web.id]
}

resource "aws_lb" "internal" {
  name     = "internal"
  internal = true
}

resource "aws_lb_target_group" "web" {
  name     = "web"
  port     = 443
  protocol = "HTTPS"
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.front.arn
  port              = 443
  protocol          = "HTTPS"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}

resource "aws_lb_target_group_attachment" "web" {
  target_group_arn = aws_lb_target_group.web.arn
  target_id        = aws_instance.web.id
}

resource "aws_db_instance" "orders" {
  identifier             = "orders"
  engine                 = "postgres"
  publicly_accessible    = true
  vpc_security_group_ids = [aws_security_group.db.id]
  password               = var.db_password
}

resource "aws_rds_cluster" "reports" {
  cluster_identifier     = "reports"
  vpc_security_group_ids = [aws_security_group.db.id]
}

module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
  cidr   = "10.0.0.0/16"
}

resource "aws_lambda_function" "api" {
  function_name = "api"
  role          = aws_iam_role.lambda.arn
  subnet_ids    = module.vpc.private_subnets
  environment {
    variables = {
      DB_PASSWORD = "not-a-real-password"
      LOG_LEVEL   = "debug"
    }
  }
}

resource "aws_lambda_function_url" "api" {
  function_name      = aws_lambda_function.api.function_name
  authorization_type = "NONE"
}

resource "aws_iam_role" "lambda" {
  name               = "lambda-api"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::111122223333:root", aws_iam_user.deployer.arn]
    }
  }
}

resource "aws_iam_user" "deployer" {
  name = "deployer"
}
