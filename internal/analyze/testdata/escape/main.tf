# Scenario 2: the nodes' instance role may read the finance bucket.
# Written for ctem's tests.
resource "aws_s3_bucket" "finance" {
  bucket = "acme-finance"
}

resource "aws_iam_role" "node" {
  name = "eks-node"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "node_finance" {
  name = "read-finance"
  role = aws_iam_role.node.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${aws_s3_bucket.finance.arn}/*"] }]
  })
}
