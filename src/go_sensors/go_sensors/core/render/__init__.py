"""Camera renderer of the simulated store (pure numpy/OpenCV).

``Renderer(store).render(camera_id, world)`` -> (H, W, 3) uint8 BGR image; see renderer.py.
"""

from go_sensors.core.render.renderer import PersonLabel, Renderer, RenderOptions, RenderResult

__all__ = ["PersonLabel", "RenderOptions", "RenderResult", "Renderer"]
