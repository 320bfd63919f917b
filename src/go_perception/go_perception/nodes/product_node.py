"""product_node: ranks the SKUs of products in shoppers' hands and publishes product evidence.

Per camera it pairs ``cameras/<cam>/image_raw`` (or ``.../compressed``) with
``cameras/<cam>/people`` (go_msgs/PersonDetectionArray, same stamp), crops around each wrist,
ranks SKUs with the product network (core/products) and publishes go_msgs/ProductEvidenceArray
on ``perception/products`` with the image's header. With ``store`` set it also watches the lanes
of the store's mixed bins in each camera (core/facings) and adds their reports (SOURCE_FACING).
With ``read_barcodes`` it also listens to ``store/catalogue`` for the EAN table. Bad input
(wrong encoding, corrupt JPEG, malformed people, crops off the image) is skipped with a
throttled warning and counted on /diagnostics.

Lifecycle node. configure: reads the parameters (config/products.yaml), loads the model and the
catalogue images; a missing model or folder fails the transition with its path in the log.
activate: subscribes the cameras. Run alone, ``main`` configures and activates the node
(``autostart``, as a lifecycle manager would); with ``autostart:=false`` it waits for a manager.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CompressedImage, Image

from go_common import qos, topics
from go_common.core.store import StoreConfigError, load_store
from go_common.image import ImageConversionError, compressed_to_numpy, image_to_numpy
from go_common.lifecycle import run_lifecycle_node
from go_common.params import declare_config
from go_common.time_sync import ApproximateTimeSynchronizer
from go_msgs.msg import Catalogue, PersonDetectionArray, ProductEvidenceArray
from go_perception.core.facings import FacingWatcher
from go_perception.core.products.classifier import (
    DEFAULT_MODEL,
    ClassifierConfig,
    ProductClassifier,
    expert_setting,
)
from go_perception.core.products.dataset import DEFAULT_DATA_DIR, read_bgr
from go_perception.core.products.hand_crops import HandCropConfig
from go_perception.core.products.recognise import HandProductRecogniser
from go_perception.core.products.verify import BarcodeReader, CatalogueVerifier
from go_perception.product_conversions import barcode_table, evidence_array_msg, people_from_msg

NODE_NAME = "product_node"
CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "products.yaml"
WARN_PERIOD_S = 5.0
DIAGNOSTIC_PERIOD_S = 1.0


@dataclass(frozen=True)
class ProductNodeConfig:
    """Parameters of product_node (defaults and meaning: config/products.yaml)."""

    camera_ids: list[str]
    compressed: bool
    model_path: str
    expert_model_path: str
    expert_min_px: float
    expert_full_px: float
    expert_weight: float
    top_k: int
    tta: bool
    tta_zoom: float
    threads: int
    sync_slop_s: float
    sync_queue_size: int
    side_per_forearm: float
    side_per_height: float
    ahead: float
    min_side_px: float
    min_keypoint_score: float
    min_inside: float
    verify_sift: bool
    catalogue_dir: str
    read_barcodes: bool
    store: str

    def __post_init__(self) -> None:
        if not self.camera_ids:
            raise ValueError("camera_ids is empty: name at least one camera")
        for cam in self.camera_ids:
            topics.camera_prefix(cam)  # raises ValueError naming a bad id
        if self.top_k < 1 or self.threads < 1 or self.sync_queue_size < 1:
            raise ValueError("top_k, threads and sync_queue_size must be >= 1")
        if not self.sync_slop_s > 0:
            raise ValueError(f"sync_slop_s must be > 0, got {self.sync_slop_s}")
        if not 0.0 < self.tta_zoom <= 1.0:
            raise ValueError(f"tta_zoom must be in (0, 1], got {self.tta_zoom}")


class ProductNode(LifecycleNode):
    """Thin ROS wrapper: convert, call HandProductRecogniser, convert, publish (see module doc)."""

    def __init__(self, **node_kwargs: object) -> None:
        """``node_kwargs`` go to rclpy's Node (context, parameter_overrides in tests)."""
        super().__init__(NODE_NAME, **node_kwargs)
        self._declared = False
        self.config: ProductNodeConfig | None = None
        self.recogniser: HandProductRecogniser | None = None
        self.facings: dict[str, FacingWatcher] = {}
        self.publisher = None
        self._syncs: list[ApproximateTimeSynchronizer] = []
        self._catalogue_sub = None
        self._diag_timer = None
        self._diagnostics = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
        # Counters since start, reported on /diagnostics.
        self.counts = {
            "images": 0,
            "bad_images": 0,
            "crops": 0,
            "skipped_wrists": 0,
            "facing_reports": 0,
        }
        self.last_problem = ""

    # --- lifecycle -------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read and check the parameters, load the model and catalogue, create the publisher."""
        try:
            config = self._load_config()
            recogniser = build_recogniser(config)
            facings = build_facing_watchers(config)
        except (ValueError, FileNotFoundError, StoreConfigError) as error:
            self.get_logger().error(f"configuration failed: {error}")
            return TransitionCallbackReturn.FAILURE
        self.config, self.recogniser, self.facings = config, recogniser, facings
        self.publisher = self.create_lifecycle_publisher(
            ProductEvidenceArray, topics.PERCEPTION_PRODUCTS, qos.EVENTS
        )
        if config.read_barcodes:
            self._catalogue_sub = self.create_subscription(
                Catalogue, topics.STORE_CATALOGUE, self.on_catalogue, qos.STATE
            )
        self._diag_timer = self.create_timer(DIAGNOSTIC_PERIOD_S, self.publish_diagnostics)
        cameras = ", ".join(config.camera_ids)
        self.get_logger().info(f"configured: model {recogniser.classifier.path}, cameras {cameras}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to each camera's images and people, paired by stamp."""
        assert self.config is not None
        compressed = self.config.compressed
        for cam in self.config.camera_ids:
            image_topic = (
                topics.camera_image_compressed(cam) if compressed else topics.camera_image(cam)
            )
            self._syncs.append(
                ApproximateTimeSynchronizer(
                    self,
                    [
                        (CompressedImage if compressed else Image, image_topic, qos.SENSOR),
                        (PersonDetectionArray, topics.camera_people(cam), qos.EVENTS),
                    ],
                    queue_size=self.config.sync_queue_size,
                    slop_s=self.config.sync_slop_s,
                    callback=lambda image, people, cam=cam: self.on_pair(cam, image, people),
                )
            )
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe from the cameras."""
        self._stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model and the publisher."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop everything from any state."""
        self._stop()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    # --- data path ---------------------------------------------------------------------------

    def on_catalogue(self, msg: Catalogue) -> None:
        """New catalogue: rebuild the barcode table."""
        if self.recogniser is not None:
            self.recogniser.barcodes = BarcodeReader(barcode_table(msg))

    def on_pair(
        self, cam: str, image_msg: Image | CompressedImage, people_msg: PersonDetectionArray
    ) -> None:
        """An image and its people: rank the products in their hands and publish."""
        if self.recogniser is None or self.publisher is None:
            return
        try:
            if isinstance(image_msg, CompressedImage):
                image = compressed_to_numpy(image_msg, "bgr8")
            else:
                image = image_to_numpy(image_msg, "bgr8")
        except ImageConversionError as exc:
            self.counts["bad_images"] += 1
            self.last_problem = f"{cam}: skipped image: {exc}"
            self.get_logger().warning(self.last_problem, throttle_duration_sec=WARN_PERIOD_S)
            return
        people = people_from_msg(people_msg)
        observations, skipped = self.recogniser.recognise(image, people)
        reports = []
        watcher = self.facings.get(cam)
        if watcher is not None and image.ndim == 3 and image.shape[2] == 3:
            stamp = image_msg.header.stamp
            reports = watcher.update(
                stamp.sec + stamp.nanosec * 1e-9,
                image,
                [(p.bbox, p.keypoints) for p in people],
            )
            self.counts["facing_reports"] += len(reports)
        self.counts["images"] += 1
        self.counts["crops"] += len({(o.person, o.side) for o in observations})
        self.counts["skipped_wrists"] += len(skipped)
        for s in skipped:
            self.get_logger().debug(f"{cam}: person {s.person} {s.side} wrist: {s.reason}")
        self.publisher.publish(evidence_array_msg(image_msg.header, cam, observations, reports))

    def publish_diagnostics(self) -> None:
        """Counters and the last bad input on /diagnostics (WARN once an image was skipped)."""
        status = DiagnosticStatus(name=f"{self.get_name()}: product recognition")
        status.hardware_id = ",".join(self.config.camera_ids) if self.config else ""
        status.level = DiagnosticStatus.WARN if self.counts["bad_images"] else DiagnosticStatus.OK
        status.message = self.last_problem or "ok"
        status.values = [KeyValue(key=k, value=str(v)) for k, v in self.counts.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    # --- helpers -----------------------------------------------------------------------------

    def _load_config(self) -> ProductNodeConfig:
        if not self._declared:
            self._declared = True
            return declare_config(self, ProductNodeConfig, CONFIG_FILE, NODE_NAME)
        values = {f.name: self.get_parameter(f.name).value for f in fields(ProductNodeConfig)}
        return ProductNodeConfig(**values)

    def _stop(self) -> None:
        for sync in self._syncs:
            sync.destroy()
        self._syncs = []

    def _release(self) -> None:
        if self.publisher is not None:
            self.destroy_lifecycle_publisher(self.publisher)
            self.publisher = None
        if self._catalogue_sub is not None:
            self.destroy_subscription(self._catalogue_sub)
            self._catalogue_sub = None
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        self.recogniser = None
        self.facings = {}


def build_recogniser(config: ProductNodeConfig) -> HandProductRecogniser:
    """The core pipeline described by ``config``.

    Raises:
        FileNotFoundError: the model or the catalogue folder is missing (path named).
    """
    classifier = ProductClassifier(
        Path(config.model_path) if config.model_path else DEFAULT_MODEL,
        ClassifierConfig(
            top_k=config.top_k,
            tta=config.tta,
            tta_zoom=config.tta_zoom,
            threads=config.threads,
            expert_min_px=config.expert_min_px,
            expert_full_px=config.expert_full_px,
            expert_weight=config.expert_weight,
        ),
        expert_setting(config.expert_model_path),
    )
    crops = HandCropConfig(
        side_per_forearm=config.side_per_forearm,
        side_per_height=config.side_per_height,
        ahead=config.ahead,
        min_side_px=config.min_side_px,
        min_keypoint_score=config.min_keypoint_score,
        min_inside=config.min_inside,
    )
    verifier = None
    if config.verify_sift:
        folder = Path(config.catalogue_dir) if config.catalogue_dir else DEFAULT_DATA_DIR / "iconic"
        if not folder.is_dir():
            raise FileNotFoundError(f"catalogue_dir {folder} not found")
        images = {p.stem: read_bgr(p) for p in sorted(folder.glob("*.jpg"))}
        verifier = CatalogueVerifier({s: im for s, im in images.items() if s in classifier.skus})
    barcodes = BarcodeReader({}) if config.read_barcodes else None
    return HandProductRecogniser(classifier, crops, verifier=verifier, barcodes=barcodes)


def build_facing_watchers(config: ProductNodeConfig) -> dict[str, FacingWatcher]:
    """A shelf-facing watcher per camera of ``config.store`` (none when ``store`` is empty).

    Raises:
        ValueError: a camera id is not in the store. StoreConfigError: the store file is bad.
    """
    if not config.store:
        return {}
    store = load_store(config.store)
    missing = [c for c in config.camera_ids if c not in store.cameras]
    if missing:
        raise ValueError(
            f"camera(s) {missing} not in store '{store.store_id}' (its cameras: "
            f"{sorted(store.cameras)}); clear 'store' to run without facing reports"
        )
    return {c: FacingWatcher(store, c) for c in config.camera_ids}


def main(args: list[str] | None = None) -> int:
    """Run product_node until interrupted; with ``autostart`` (default) configure + activate."""
    return run_lifecycle_node(ProductNode, args)
