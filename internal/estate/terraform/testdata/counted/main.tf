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
