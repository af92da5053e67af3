# A Python 2.7 student's idioms; every line below is Python 2 only or means something else in Python 3.
import string
import sys

scores = {'conv': 3, 'pool': 1, 'fc': 2}
print 'keys are a list:', sorted(scores.keys())[0], type(scores.keys()).__name__
for name, value in sorted(scores.iteritems()):
    print name, value
print scores.has_key('conv'), scores.has_key('relu')
print sum(scores.itervalues())
squares = map(lambda v: v * v, xrange(5))
print squares[2], len(squares), type(squares).__name__
evens = filter(lambda v: v % 2 == 0, range(10))
print evens[-1], range(3)[1]
pairs = zip('ab', [1, 2])
print pairs[1]
print reduce(lambda a, b: a * b, [1, 2, 3, 4])
big = 10L ** 20
print isinstance(big, (int, long)), big / 3
text = unicode('abc')
print isinstance(text, basestring), isinstance('x', basestring)
print 0777, 0x1F, 017 + 1
print `[1, 2]`, `'q'`
print 1 <> 2, 3 <> 3
try:
    raise ValueError, 'bad value'
except ValueError, error:
    print 'caught', error
try:
    {}['missing']
except (KeyError, IndexError), error:
    print 'caught', type(error).__name__, error
namespace = {}
exec 'result = 6 * 7' in namespace
print namespace['result']
print string.upper('shout'), string.join(['a', 'b'], '-'), string.atoi('42') + 1, string.letters[:3]
print sorted([3, 1, 2], cmp=lambda a, b: cmp(b, a))
print sorted(['bb', 'a', 'ccc'], lambda a, b: cmp(len(a), len(b)))
print round(2.5), round(-0.5), round(0.125, 2), round(7, -1), repr(round(1.0005, 3))
print '%d items, %s' % (len(scores), 'done')
print >>sys.stdout, 'to a stream', 1
print 'no newline',
print 'after'
print
items = [(2, 'b'), (1, 'a')]
items.sort()
print items
print dict(zip(range(3), 'xyz')).values()
print max(xrange(4)), list(reversed(range(3)))
print sys.maxint > 0, int('7') / 2
