# ECS tasks on EC2 container instances and on Fargate. Written for ctem's
# tests.
resource "aws_ecs_cluster" "main" {
  name = "main"
}

resource "aws_instance" "ecs" {
  ami           = "ami-123"
  instance_type = "t3.micro"
  user_data     = "#!/bin/bash\necho ECS_CLUSTER=main >> /etc/ecs/ecs.config"
}

resource "aws_instance" "other" {
  ami           = "ami-123"
  instance_type = "t3.micro"
  user_data     = "#!/bin/bash\necho ECS_CLUSTER=other >> /etc/ecs/ecs.config"
}

resource "aws_ecs_task_definition" "agent" {
  family       = "agent"
  network_mode = "host"
  volume {
    name      = "docker"
    host_path = "/var/run/docker.sock"
  }
  container_definitions = jsonencode([{
    name        = "agent"
    image       = "ghcr.io/acme/agent:1.0"
    mountPoints = [{ sourceVolume = "docker", containerPath = "/var/run/docker.sock" }]
  }])
}

resource "aws_ecs_task_definition" "web" {
  family                = "web"
  container_definitions = jsonencode([{ name = "web", image = "ghcr.io/acme/web:1.0" }])
}

resource "aws_ecs_service" "agent" {
  name            = "agent"
  cluster         = aws_ecs_cluster.main.id
  launch_type     = "EC2"
  task_definition = aws_ecs_task_definition.agent.arn
}

resource "aws_ecs_service" "web" {
  name            = "web"
  cluster         = aws_ecs_cluster.main.id
  launch_type     = "FARGATE"
  task_definition = aws_ecs_task_definition.web.arn
}
