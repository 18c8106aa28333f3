# The demo estate's AWS account, written for ctem's demo: the bucket the
# shop exports customer data to, the role the shop API runs as (through
# EKS pod identity, see ../inventory.yaml), a public bucket of static
# assets, and a CI user with more power than it needs.

resource "aws_s3_bucket" "customer_exports" {
  bucket = "shop-customer-exports"
  tags = {
    Name = "customer-exports"
    data = "pii"
  }
}

resource "aws_s3_bucket_public_access_block" "customer_exports" {
  bucket                  = aws_s3_bucket.customer_exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_iam_role" "shop_api" {
  name = "shop-api"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE" }
    }]
  })
}

resource "aws_iam_role_policy" "shop_api_exports" {
  name = "read-write-exports"
  role = aws_iam_role.shop_api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
      Resource = [aws_s3_bucket.customer_exports.arn, "${aws_s3_bucket.customer_exports.arn}/*"]
    }]
  })
}

resource "aws_s3_bucket" "static_assets" {
  bucket = "shop-static-assets"
}

resource "aws_s3_bucket_acl" "static_assets" {
  bucket = aws_s3_bucket.static_assets.id
  acl    = "public-read"
}

# The CI user may launch instances with any role it can pass: with the
# admin role, that is administrator access.
resource "aws_iam_user" "ci_deployer" {
  name = "ci-deployer"
}

resource "aws_iam_user_policy" "ci_deployer" {
  name = "deploy"
  user = aws_iam_user.ci_deployer.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["iam:PassRole", "ec2:RunInstances"]
      Resource = "*"
    }]
  })
}

resource "aws_iam_role" "ops_admin" {
  name = "ops-admin"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ec2.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "ops_admin" {
  role       = aws_iam_role.ops_admin.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
