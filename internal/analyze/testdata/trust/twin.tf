# Scenario 6's negative twin: the payroll role trusts the payroll admin.
resource "aws_iam_user" "intern" {
  name = "intern"
}

resource "aws_iam_user" "payroll_admin" {
  name = "payroll-admin"
}

resource "aws_s3_bucket" "payroll" {
  bucket = "acme-payroll"
}

resource "aws_iam_role" "payroll" {
  name = "payroll"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = aws_iam_user.payroll_admin.arn } }]
  })
}

resource "aws_iam_role_policy" "payroll" {
  name = "read-payroll"
  role = aws_iam_role.payroll.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject", "s3:ListBucket"], Resource = [aws_s3_bucket.payroll.arn, "${aws_s3_bucket.payroll.arn}/*"] }]
  })
}
