# Nothing here resolves without Terraform: a variable without default,
# module outputs, an unknown function, count and for_each instances.
variable "bucket_name" {}

variable "tags" {
  type = map(string)
}

module "network" {
  source = "./network"
}

resource "aws_s3_bucket" "dynamic" {
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_instance" "app" {
  count                  = 3
  ami                    = data.aws_ami.ubuntu.id
  subnet_id              = module.network.subnet_ids[count.index]
  vpc_security_group_ids = [module.network.sg_id]
  user_data              = templatefile("${path.module}/init.sh", { name = var.bucket_name })
  tags = {
    Name = "app-${count.index}"
  }
}

resource "aws_iam_role_policy" "app" {
  for_each = toset(["a", "b"])
  role     = aws_iam_role.app[each.key].id
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "${var.bucket_arn}/*" },
                 { Effect = "Allow", Action = "sqs:SendMessage", Resource = aws_sqs_queue.q.arn }]
  })
}

resource "aws_iam_role" "app" {
  name               = local.missing
  assume_role_policy = file("trust.json")
}
