# A file indented with tabs and spaces, as Python 2 editors left them (a tab reaches the next multiple of 8).
def count(limit):
        total = 0
	for index in xrange(limit):
	        if index % 2:
			total += index / 2
        	else:
		    total -= 1
	return total


class Box(object):
    def __init__(self):
	self.items = [1, 2, 3]

    def size(self):
	return len(self.items) / 2


print count(9), Box().size()
print """a	tabbed
	string"""
