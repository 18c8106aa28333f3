# Scenario: IRSA. The role the nginx service account is annotated with
# may read the reports bucket. Written for ctem's tests.
resource "aws_s3_bucket" "reports" {
  bucket = "acme-reports"
}

resource "aws_iam_role" "s3_reader" {
  name = "s3-reader"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRoleWithWebIdentity", Principal = { Federated = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE" } }]
  })
}

resource "aws_iam_role_policy" "read_reports" {
  name = "read-reports"
  role = aws_iam_role.s3_reader.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${aws_s3_bucket.reports.arn}/*"] }]
  })
}
