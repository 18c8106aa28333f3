# Scenario 6: the payroll role trusts an intern's user. Written for
# ctem's tests.
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
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = aws_iam_user.intern.arn } }]
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
