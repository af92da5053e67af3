# -*- coding: gbk -*-
# 卷积层的输出尺寸（Python 2 的整数除法）
import numpy as np


def output_size(height, kernel, stride):
    # 输出高度
    return (height - kernel) / stride + 1

name = u'池化层'
print len(name), output_size(7, 3, 2)
print len(name.encode('utf-8')), name == u'\u6c60\u5316\u5c42'
