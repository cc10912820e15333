/// Nearest-neighbour search over embedding vectors.
public protocol VectorIndex: Sendable {
    var model: String { get }
    var dimension: Int { get }
    var count: Int { get }
    /// The `limit` rows with the highest dot product with `query` (cosine, for unit vectors), best first.
    func nearest(_ query: [Float], limit: Int) -> [(chunkID: Int, score: Float)]
}

/// Exact search: all vectors in one contiguous buffer, SIMD16 dot products, a bounded min-heap of the best k.
///
/// It takes vectors one by one as an ingest commits them (``upsert(chunkID:vector:)``) and drops those of
/// removed chunks (``remove(chunkID:)``: the row is skipped, and reused by the next vector added).
public struct FlatVectorIndex: VectorIndex {
    public let model: String
    /// Set by the first vector when the index starts empty.
    public private(set) var dimension: Int
    private var ids: [Int]
    private var values: [Float]
    private var rowOf: [Int: Int]
    private var freeRows: [Int] = []

    public init(_ set: VectorSet) {
        model = set.model
        dimension = set.dimension
        ids = set.ids
        values = set.values
        rowOf = Dictionary(set.ids.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { _, last in last })
    }

    /// Vectors in the index.
    public var count: Int { rowOf.count }

    /// The stored vector of a chunk, if any.
    public func vector(for chunkID: Int) -> [Float]? {
        guard let row = rowOf[chunkID] else { return nil }
        return Array(values[(row * dimension)..<((row + 1) * dimension)])
    }

    /// Adds or replaces a chunk's vector. An empty index takes the dimension of its first vector; vectors of
    /// another dimension are ignored (the store refuses them before they are written).
    public mutating func upsert(chunkID: Int, vector: [Float]) {
        if rowOf.isEmpty && vector.count != dimension {
            dimension = vector.count
            ids = []
            values = []
            freeRows = []
        }
        guard vector.count == dimension, dimension > 0 else { return }
        if let row = rowOf[chunkID] ?? freeRows.popLast() {
            values.replaceSubrange((row * dimension)..<((row + 1) * dimension), with: vector)
            ids[row] = chunkID
            rowOf[chunkID] = row
        } else {
            rowOf[chunkID] = ids.count
            ids.append(chunkID)
            values.append(contentsOf: vector)
        }
    }

    /// Removes a chunk's vector; a no-op when there is none.
    public mutating func remove(chunkID: Int) {
        guard let row = rowOf.removeValue(forKey: chunkID) else { return }
        ids[row] = -1
        freeRows.append(row)
    }

    public func nearest(_ query: [Float], limit: Int) -> [(chunkID: Int, score: Float)] {
        guard limit > 0, !rowOf.isEmpty, query.count == dimension else { return [] }
        var heap = TopK(capacity: min(limit, rowOf.count))
        let d = dimension
        let rows = ids.count
        ids.withUnsafeBufferPointer { idBuffer in
            values.withUnsafeBufferPointer { matrix in
                query.withUnsafeBufferPointer { q in
                    let base = matrix.baseAddress!, qp = q.baseAddress!
                    for row in 0..<rows where idBuffer[row] >= 0 {
                        heap.offer(Self.dot(base + row * d, qp, d), row)
                    }
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

/// The best vectors by cosine.
typealias TopK = ScoredTopK<Float>

/// The best `capacity` (score, row) pairs seen, kept in a min-heap: Float scores for vectors, Double for BM25.
struct ScoredTopK<Score: Comparable> {
    private(set) var items: [(score: Score, row: Int)] = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        items.reserveCapacity(min(capacity, 4096))
    }

    @inline(__always)
    mutating func offer(_ score: Score, _ row: Int) {
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
    func sorted() -> [(score: Score, row: Int)] {
        items.sorted { $0.score != $1.score ? $0.score > $1.score : $0.row < $1.row }
    }
}
