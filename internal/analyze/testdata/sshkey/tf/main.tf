# An instance launched with a key pair whose public key is written out,
# with an administrator role, and the crown-jewel bucket. Written for
# ctem's tests.
resource "aws_key_pair" "ops" {
  key_name   = "ops"
  public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC650WjhtmYFZZv/Ytmaatgar6GjDvm4DvyaOpLUVX9p test"
}

resource "aws_iam_role" "admin" {
  name = "admin"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "admin" {
  role       = aws_iam_role.admin.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}

resource "aws_iam_instance_profile" "admin" {
  name = "admin"
  role = aws_iam_role.admin.name
}

resource "aws_instance" "bastion" {
  ami                  = "ami-0123456789abcdef0"
  instance_type        = "t3.micro"
  key_name             = aws_key_pair.ops.key_name
  iam_instance_profile = aws_iam_instance_profile.admin.name
}

resource "aws_s3_bucket" "crown" {
  bucket = "acme-crown-jewels"
}
