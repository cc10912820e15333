/// Nearest-neighbour search over embedding vectors.
public protocol VectorIndex: Sendable {
    var model: String { get }
    var dimension: Int { get }
    var count: Int { get }
    /// The `limit` rows with the highest dot product with `query` (cosine, for unit vectors), best first.
    func nearest(_ query: [Float], limit: Int) -> [(chunkID: Int, score: Float)]
}

/// Exact search: all vectors in one contiguous buffer, SIMD16 dot products, a bounded min-heap of the best k.
public final class FlatVectorIndex: VectorIndex {
    public let model: String
    public let dimension: Int
    private let ids: [Int]
    private let values: [Float]

    public init(_ set: VectorSet) {
        model = set.model
        dimension = set.dimension
        ids = set.ids
        values = set.values
    }

    public var count: Int { ids.count }

    public func nearest(_ query: [Float], limit: Int) -> [(chunkID: Int, score: Float)] {
        guard limit > 0, !ids.isEmpty, query.count == dimension else { return [] }
        var heap = TopK(capacity: min(limit, ids.count))
        let d = dimension
        values.withUnsafeBufferPointer { matrix in
            query.withUnsafeBufferPointer { q in
                let base = matrix.baseAddress!, qp = q.baseAddress!
                for row in 0..<ids.count {
                    heap.offer(Self.dot(base + row * d, qp, d), row)
                }
            }
        }
        return heap.sorted().map { (ids[$0.row], $0.score) }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            acc0 += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            acc1 += UnsafeRawPointer(a + i + 16).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(b + i + 16).loadUnaligned(as: SIMD16<Float>.self)
            i += 32
        }
        while i + 16 <= n {
            acc0 += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n { sum += a[i] * b[i]; i += 1 }
        return sum
    }
}

/// The best `capacity` (score, row) pairs seen, kept in a min-heap.
struct TopK {
    private(set) var items: [(score: Float, row: Int)] = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        items.reserveCapacity(min(capacity, 4096))
    }

    @inline(__always)
    mutating func offer(_ score: Float, _ row: Int) {
        if items.count < capacity {
            items.append((score, row))
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                if items[parent].score <= items[child].score { break }
                items.swapAt(parent, child)
                child = parent
            }
        } else if score > items[0].score {
            items[0] = (score, row)
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count && items[left].score < items[smallest].score { smallest = left }
                if right < items.count && items[right].score < items[smallest].score { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }

    /// Best first; ties broken by row order.
    func sorted() -> [(score: Float, row: Int)] {
        items.sorted { $0.score != $1.score ? $0.score > $1.score : $0.row < $1.row }
    }
}
