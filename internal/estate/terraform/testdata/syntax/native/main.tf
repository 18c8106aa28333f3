variable "bucket" {
  default = "acme-default"
}

locals {
  reader = "reader"
}

resource "aws_s3_bucket" "data" {
  bucket = var.bucket
}

resource "aws_iam_role" "reader" {
  name = local.reader
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "reader" {
  role = aws_iam_role.reader.id
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "${aws_s3_bucket.data.arn}/*" }]
  })
}

resource "aws_security_group" "web" {
  name = "web"
  dynamic "ingress" {
    for_each = [80, 443]
    content {
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}

resource "aws_instance" "web" {
  ami                         = "ami-1"
  associate_public_ip_address = true
  vpc_security_group_ids      = [aws_security_group.web.id]
  iam_instance_profile        = aws_iam_instance_profile.web.name
  tags = {
    Name = "web-${var.bucket}"
  }
}

resource "aws_iam_instance_profile" "web" {
  name = "web"
  role = aws_iam_role.reader.name
}
