"""VGG19 as the AICS labs use it: MatConvNet weights, the course's layer names, preprocessing."""
