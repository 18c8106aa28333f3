# A module that makes a role. Written for ctem's tests.
variable "name" {
  type = string
}

variable "policy_arn" {
  type    = string
  default = null
}

variable "trusted" {
  type    = string
  default = null
}

resource "aws_iam_role" "this" {
  name = var.name
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = var.trusted } }]
  })
}

resource "aws_iam_role_policy_attachment" "this" {
  count      = var.policy_arn == null ? 0 : 1
  role       = aws_iam_role.this.name
  policy_arn = var.policy_arn
}

output "arn" {
  value = aws_iam_role.this.arn
}
