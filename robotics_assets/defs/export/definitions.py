import dagster as dg

from robotics_assets.defs.export.assets import build_onnx_asset
from robotics_assets.lib.partitions import task_region_partitions
from robotics_assets.lib.settings import current_settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_onnx_asset(task_region_partitions(current_settings().regions))])
