"""How each course's interfaces are called and what the reference expects of them."""
