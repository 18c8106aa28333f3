# Scenario 4: a bucket of customer exports made public by its ACL.
# Written for ctem's tests.
resource "aws_s3_bucket" "exports" {
  bucket = "acme-customer-exports"
}

resource "aws_s3_bucket_acl" "exports" {
  bucket = aws_s3_bucket.exports.id
  acl    = "public-read"
}
