create  = true
