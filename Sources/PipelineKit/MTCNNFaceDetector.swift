import Foundation
import MediaIO
import Models

/// MTCNN as facenet-pytorch runs it (`Models.MTCNN`), behind the faces stage's detector interface.
final class MTCNNFaceDetector: FaceDetector, @unchecked Sendable {
    static let files = MTCNN.weightFiles
    let model: MTCNN

    init(folder: URL, minFaceSize: Int) throws {
        model = try MTCNN(folder: folder, configuration: MTCNN.Configuration(minFaceSize: Double(minFaceSize)))
    }

    func detect(_ frame: RGBFrame) throws -> [FaceBox] {
        let image = try RGBImage(width: frame.width, height: frame.height, pixels: frame.pixels)
        return model.detect(image: image).map { d in
            FaceBox(box: [d.box.x1, d.box.y1, d.box.x2, d.box.y2], probability: d.probability,
                    landmarks: d.landmarks.flatMap { [$0.x, $0.y] })
        }
    }
}
