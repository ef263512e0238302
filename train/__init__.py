"""tonecue.train"""
