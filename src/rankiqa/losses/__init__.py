"""rankiqa.losses"""
