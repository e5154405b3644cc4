"""rankiqa.inference"""
