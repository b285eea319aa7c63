import Foundation

/// One face found by `MTCNN.detect`.
public struct FaceDetection: Sendable, Equatable {
    /// The box after ONet's regression (not squared), in pixels.
    public var box: Box
    /// ONet's face probability (softmax channel 1), > 0.7 with the default thresholds.
    public var probability: Float
    /// Five landmarks in facenet-pytorch's order: left eye, right eye, nose, left mouth corner, right mouth corner
    /// ("left" as seen in the image).
    public var landmarks: [Point]

    public init(box: Box, probability: Float, landmarks: [Point]) {
        self.box = box
        self.probability = probability
        self.landmarks = landmarks
    }

    /// A face box in pixel coordinates of the image it was found in: `x1, y1` top left, `x2, y2` bottom right
    /// (facenet-pytorch's `[x1, y1, x2, y2]`; the values are float32 and may lie outside the image).
    public struct Box: Sendable, Equatable {
        public var x1: Float
        public var y1: Float
        public var x2: Float
        public var y2: Float

        public init(x1: Float, y1: Float, x2: Float, y2: Float) {
            self.x1 = x1
            self.y1 = y1
            self.x2 = x2
            self.y2 = y2
        }

        public var width: Float { x2 - x1 }
        public var height: Float { y2 - y1 }
        /// `(x2 − x1)·(y2 − y1)` in float32, the key facenet-pytorch orders faces by.
        public var area: Float { (x2 - x1) * (y2 - y1) }

        /// Intersection over union with another box (areas without +1), 0 when either is empty.
        public func iou(_ other: Box) -> Float {
            let w = max(0, min(x2, other.x2) - max(x1, other.x1)), h = max(0, min(y2, other.y2) - max(y1, other.y1))
            let inter = w * h
            let union = area + other.area - inter
            return union > 0 ? inter / union : 0
        }
    }

    /// A point in pixel coordinates.
    public struct Point: Sendable, Equatable {
        public var x: Float
        public var y: Float

        public init(x: Float, y: Float) {
            self.x = x
            self.y = y
        }
    }
}
