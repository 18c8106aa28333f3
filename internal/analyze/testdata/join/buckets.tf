# The buckets a Security Hub report names, as Terraform source. Written for
# ctem's tests.
resource "aws_s3_bucket" "artifacts" {
  bucket = "alpha-artifacts-bucket"
}

resource "aws_s3_bucket" "reports" {
  bucket = "zeta-reports-bucket"
}
