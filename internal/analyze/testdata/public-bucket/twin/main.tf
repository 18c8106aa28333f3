# Scenario 4's negative twin: the same bucket, private.
resource "aws_s3_bucket" "exports" {
  bucket = "acme-customer-exports"
}

resource "aws_s3_bucket_acl" "exports" {
  bucket = aws_s3_bucket.exports.id
  acl    = "private"
}
