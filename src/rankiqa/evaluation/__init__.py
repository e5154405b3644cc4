"""rankiqa.evaluation"""
