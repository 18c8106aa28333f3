# count, for_each, tfvars and try as terraform-aws-modules write them.
# Written for ctem's tests.
variable "create" {
  type    = bool
  default = false
}

variable "create_reader" {
  type    = bool
  default = true
}

variable "buckets" {
  type    = set(string)
  default = []
}

resource "aws_iam_role" "this" {
  count = var.create ? 1 : 0
  name  = "app"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_iam_role" "skipped" {
  count = var.create_reader ? 0 : 1
  name  = "skipped"
}

resource "aws_s3_bucket" "this" {
  for_each = var.buckets
  bucket   = "acme-${each.key}"
}

resource "aws_iam_role_policy" "this" {
  count = var.create ? 1 : 0
  role  = aws_iam_role.this[0].id
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "${try(aws_s3_bucket.this["data"].arn, "")}/*" }]
  })
}

variable "readers" {
  type    = map(string)
  default = { logs = "arn:aws:s3:::acme-logs/*" }
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "reader" {
  dynamic "statement" {
    for_each = var.readers
    content {
      sid       = statement.key
      actions   = ["s3:GetObject"]
      resources = [statement.value]
    }
  }
}

resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"
}

resource "aws_iam_role" "reader" {
  name = "reader"
  assume_role_policy = jsonencode({
    Statement = [
      { Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" } },
      { Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::111122223333:root" } },
    ]
  })
  inline_policy {
    name   = "read"
    policy = data.aws_iam_policy_document.reader.json
  }
}

resource "aws_iam_policy" "boundary" {
  name   = "s3-only"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] })
}

resource "aws_iam_role" "bounded" {
  name                 = "bounded"
  permissions_boundary = aws_iam_policy.boundary.arn
  managed_policy_arns  = ["arn:aws:iam::aws:policy/AdministratorAccess"]
}
