"""rankiqa.distortions"""
