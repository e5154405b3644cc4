"""rankiqa.data"""
