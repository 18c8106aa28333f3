# An instance launched with a key pair whose public key is written out,
# with an administrator role, and the crown-jewel bucket. Written for
# ctem's tests.
resource "aws_key_pair" "ops" {
  key_name   = "ops"
  public_key = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC8B+20/uUAXFJoEG5lZh3Pa3VIH1irRrWfBbpX8BKdsauVIid/VlNC1WNP5d60muOQjzUUyNMxOO5zyRbUY52se9fIWqpNWM4JYrT3w/7CjhgqozojDFt8vd60L/9wNVwQSIYENmq9WPP+bgQsKDjs/kB/Qg6gR/rKgmuHaUtpqZbrHrTSddaYdqZlBekoddyGCgisxxgr8MnSpjYLC5mue9cP+QUOvClvbRLS+cDVnUfLl2vIPRRTzjgoJ0ujPNNRcU9CcqBIRGK2He6YoGi4/riOA4qTVJ5++cb7qp5KmoHOk1yUn90Io4DwXNtC2J5K8whsMWcIAzTFfCl2Oawn test"
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
