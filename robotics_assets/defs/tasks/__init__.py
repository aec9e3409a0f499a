"""Task configs: the validated YAML snapshot per task, and the sensor that discovers configs."""
