import UpdateEngine
print("imgsec")
