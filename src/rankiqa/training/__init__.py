"""rankiqa.training"""
