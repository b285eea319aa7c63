import Foundation

// Box bookkeeping of facenet-pytorch's detect_face
// (https://github.com/timesler/facenet-pytorch/blob/master/models/utils/detect_face.py): generateBoundingBox,
// batched_nms (torchvision), nms_numpy ('Min'), bbreg, rerec, pad. All box arithmetic is float32, in the order
// torch evaluates it, so integer cut points (floor in generateBoundingBox, trunc in pad) fall where facenet's do.

/// A candidate face: box, score, and the regression offsets of the network that scored it.
struct MTCNNCandidate {
    var x1: Float
    var y1: Float
    var x2: Float
    var y2: Float
    var score: Float
    var dx1: Float = 0
    var dy1: Float = 0
    var dx2: Float = 0
    var dy2: Float = 0

    var box: FaceDetection.Box { FaceDetection.Box(x1: x1, y1: y1, x2: x2, y2: y2) }
}

/// torchvision `nms(boxes, scores, iou)` (CPU kernel): visit boxes by descending score (ties: lower index first),
/// keep one, suppress later ones whose IoU, `inter / (area_i + area_j − inter)` with `area = (x2−x1)(y2−y1)` in
/// float32, is > `threshold` (compared in double). Returns the kept indices, highest score first.
func mtcnnNMS(_ boxes: [MTCNNCandidate], threshold: Double) -> [Int] {
    let n = boxes.count
    if n == 0 { return [] }
    let order = (0..<n).sorted { a, b in
        boxes[a].score != boxes[b].score ? boxes[a].score > boxes[b].score : a < b
    }
    var areas = [Float](repeating: 0, count: n)
    for i in 0..<n { areas[i] = (boxes[i].x2 - boxes[i].x1) * (boxes[i].y2 - boxes[i].y1) }
    var suppressed = [Bool](repeating: false, count: n)
    var keep: [Int] = []
    for (pos, i) in order.enumerated() where !suppressed[i] {
        keep.append(i)
        let bi = boxes[i], ai = areas[i]
        for j in order[(pos + 1)...] where !suppressed[j] {
            let bj = boxes[j]
            let w = max(0, min(bi.x2, bj.x2) - max(bi.x1, bj.x1))
            let h = max(0, min(bi.y2, bj.y2) - max(bi.y1, bj.y1))
            let inter = w * h
            let ovr = inter / (ai + areas[j] - inter)
            if Double(ovr) > threshold { suppressed[j] = true }
        }
    }
    return keep
}

/// facenet-pytorch's `nms_numpy(boxes, scores, threshold, 'Min')`: areas `(x2−x1+1)(y2−y1+1)`, overlap
/// `inter / min(area_i, area_j)` with `+1` widths, all float32; take the highest score left (ties: the higher
/// index, as `argsort` puts it last), keep the others whose overlap is ≤ `threshold` (float32 compare).
func mtcnnNMSMin(_ boxes: [MTCNNCandidate], threshold: Float) -> [Int] {
    var remaining = (0..<boxes.count).sorted { a, b in
        boxes[a].score != boxes[b].score ? boxes[a].score < boxes[b].score : a < b
    }
    let areas = boxes.map { ($0.x2 - $0.x1 + 1) * ($0.y2 - $0.y1 + 1) }
    var pick: [Int] = []
    while let i = remaining.popLast() {
        pick.append(i)
        let bi = boxes[i]
        remaining = remaining.filter { j in
            let bj = boxes[j]
            let w = max(0, min(bi.x2, bj.x2) - max(bi.x1, bj.x1) + 1)
            let h = max(0, min(bi.y2, bj.y2) - max(bi.y1, bj.y1) + 1)
            let o = (w * h) / min(areas[i], areas[j])
            return o <= threshold
        }
    }
    return pick
}

/// Stage 1 regression (`x1 + dx1·w` with `w = x2 − x1`, no +1), then `rerec`.
func mtcnnRegressPNet(_ c: MTCNNCandidate) -> MTCNNCandidate {
    let w = c.x2 - c.x1, h = c.y2 - c.y1
    var r = c
    r.x1 = c.x1 + c.dx1 * w
    r.y1 = c.y1 + c.dy1 * h
    r.x2 = c.x2 + c.dx2 * w
    r.y2 = c.y2 + c.dy2 * h
    return mtcnnRerec(r)
}

/// `bbreg`: `w = x2 − x1 + 1`, `x1 + dx1·w`, ….
func mtcnnBBReg(_ c: MTCNNCandidate) -> MTCNNCandidate {
    let w = c.x2 - c.x1 + 1, h = c.y2 - c.y1 + 1
    var r = c
    r.x1 = c.x1 + c.dx1 * w
    r.y1 = c.y1 + c.dy1 * h
    r.x2 = c.x2 + c.dx2 * w
    r.y2 = c.y2 + c.dy2 * h
    return r
}

/// `rerec`: the square with side `max(w, h)` on the box's centre (`x1 + w·0.5 − l·0.5`, `x2 = x1 + l`).
func mtcnnRerec(_ c: MTCNNCandidate) -> MTCNNCandidate {
    let h = c.y2 - c.y1, w = c.x2 - c.x1
    let l = max(w, h)
    var r = c
    r.x1 = c.x1 + w * 0.5 - l * 0.5
    r.y1 = c.y1 + h * 0.5 - l * 0.5
    r.x2 = r.x1 + l
    r.y2 = r.y1 + l
    return r
}

/// `pad` then facenet's crop `img[y−1 : ey, x−1 : ex]`: coordinates truncated toward zero, `x, y < 1 → 1`,
/// `ex > W → W`, `ey > H → H`. Nil when the crop is empty (facenet skips those crops).
func mtcnnCropRect(_ c: MTCNNCandidate, imageWidth: Int, imageHeight: Int) -> MTCNNRect? {
    // `.trunc().int()`; boxes far outside an image saturate instead of trapping.
    func truncated(_ v: Float) -> Int { v.isFinite ? Int(max(-1e9, min(1e9, v)).rounded(.towardZero)) : 0 }
    let x = max(truncated(c.x1), 1), y = max(truncated(c.y1), 1)
    let ex = min(truncated(c.x2), imageWidth), ey = min(truncated(c.y2), imageHeight)
    guard ey > y - 1, ex > x - 1 else { return nil }
    return MTCNNRect(x0: x - 1, y0: y - 1, width: ex - (x - 1), height: ey - (y - 1))
}
