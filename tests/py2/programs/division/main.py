# Classic division as Python 2.7 with NumPy 1.16 computed it; helper.py (implicit relative import) divides truly.
import numpy as np
import helper


def show(value):
    if isinstance(value, np.ndarray):
        return '%s %s' % (value.dtype, value.tolist())
    if isinstance(value, np.generic):
        return '%s %r' % (value.dtype, value.item())
    return '%s %r' % (type(value).__name__, value)

print show(7 / 2), show(-7 / 2), show(7 / -2), show(-7 / -2), show(0 / 5)
print show(7.0 / 2), show(7 / 2.0), show(True / 1), show(True / 2), show(5 / True)
print show((224 - 3 + 2 * 1) / 1 + 1), show((7 - 2) / 2 + 1)
print show(np.int64(7) / 2), show(np.int64(-7) / 2), show(7 / np.int64(-2)), show(np.float64(7) / 2)
print show(np.float64(7) / np.int32(2)), show(np.int64(9) / np.int64(4))
ints = np.arange(-4, 5)
print show(ints / 3), show(ints / 3.0), show(ints / np.int32(2)), show(3 / np.array([2, -2]))
print show(np.array([7, 8], dtype=np.int32) / np.array([2, 3], dtype=np.int32))
print show(np.array([1.5, 3.0]) / 2), show(np.array([True, False]) / np.array([True, True]))
total = 17
total /= 5
print show(total)
fraction = 17.0
fraction /= 4
print show(fraction)
kept = np.arange(6)
alias = kept
kept /= 2
print show(kept), kept is alias, show(alias)
grid = np.arange(12).reshape(3, 4)
grid[1:, ::2] /= 3
grid[0] /= 2
print show(grid)


class Counter(object):
    def __init__(self):
        self.count = 9
        self.__hidden = 10
        self.values = [8, 9]

    def shrink(self):
        self.count /= 2
        self.__hidden /= 3
        self.values[1] /= 2
        return self.count, self.__hidden, self.values


print Counter().shrink()


class Money(object):
    def __init__(self, cents):
        self.cents = cents

    def __div__(self, other):
        return Money(self.cents / other)

    def __rdiv__(self, other):
        return Money(other / self.cents)


print (Money(10) / 3).cents, (100 / Money(7)).cents
print show(helper.halves(7)), show(helper.sizes(9, 2, 2)), show(7 // 2), show(-7.5 // 2)
size = (9 - 3) / 2 + 1
print range(size), np.zeros((size, size / 2)).shape, 'abcdef'[size / 2:]
print map(lambda v: v / 2, [3, 4, -5])
