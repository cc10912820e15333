/// Structure-aware chunking: headings start sections; within a section blocks are packed into
/// chunks under a token budget, breaking at paragraph boundaries when a chunk is at least half
/// full, otherwise between sentences (Chinese and Latin punctuation), and as a last resort inside
/// a sentence at a space or between CJK characters. Consecutive chunks of a section overlap by
/// up to ``ChunkingOptions/overlapTokens`` of whole sentences.
public struct StructuredChunker: Chunker {
    public var options: ChunkingOptions

    public init(options: ChunkingOptions = ChunkingOptions()) { self.options = options }

    public var fingerprint: String { "structured-v1," + options.fingerprint }

    private struct Unit {
        var range: Range<Int>
        var tokens: Int
        var block: Int
        var startsBlock: Bool
    }

    public func chunk(_ document: ExtractedDocument) -> [ChunkDraft] {
        let scalars = Array(document.text.unicodeScalars)
        let newlines = scalars.indices.filter { scalars[$0] == "\n" }
        var chunks: [ChunkDraft] = []
        var headings: [(level: Int, title: String)] = []
        var sectionBlocks: [Int] = []

        func flushSection() {
            guard !sectionBlocks.isEmpty else { return }
            let heading = headings.map(\.title).joined(separator: " > ")
            pack(sectionBlocks, heading: heading, document: document, scalars: scalars, newlines: newlines, into: &chunks)
            sectionBlocks = []
        }

        for (index, block) in document.blocks.enumerated() {
            if block.kind == .heading {
                flushSection()
                while let last = headings.last, last.level >= block.level { headings.removeLast() }
                headings.append((block.level, block.title ?? String(String.UnicodeScalarView(scalars[block.range]))))
            } else {
                // A new page starts a new chunk, so a citation names one page.
                // So does a new slide, sheet or OCR page: one chunk has one locator.
                if let last = sectionBlocks.last,
                   document.blocks[last].page != block.page || document.blocks[last].locator != block.locator { flushSection() }
                sectionBlocks.append(index)
            }
        }
        flushSection()
        return chunks
    }

    private func pack(_ blockIndices: [Int], heading: String, document: ExtractedDocument,
                      scalars: [Unicode.Scalar], newlines: [Int], into chunks: inout [ChunkDraft]) {
        let maxTokens = options.maxTokens
        var units: [Unit] = []
        var blockTokens: [Int: Int] = [:]
        for index in blockIndices {
            let block = document.blocks[index]
            blockTokens[index] = TokenEstimator.count(scalars, in: block.range)
            let pieces: [Range<Int>]
            switch block.kind {
            case .code, .table: pieces = SentenceSplitter.lines(scalars, in: block.range)
            default: pieces = SentenceSplitter.split(scalars, in: block.range)
            }
            var first = true
            for piece in pieces {
                for part in hardSplit(scalars, piece, maxTokens: maxTokens) {
                    units.append(Unit(range: part.range, tokens: part.tokens, block: index, startsBlock: first))
                    first = false
                }
            }
        }

        var current: [Unit] = []
        var currentTokens = 0
        func emit() {
            guard let first = current.first, let last = current.last else { return }
            let range = first.range.lowerBound..<last.range.upperBound
            let text = String(String.UnicodeScalarView(scalars[range]))
            let startBlock = document.blocks[first.block]
            let endBlock = document.blocks[last.block]
            let startLine = startBlock.endLine != nil ? startBlock.startLine : line(of: range.lowerBound, in: startBlock, newlines)
            let endLine = endBlock.endLine ?? line(of: range.upperBound - 1, in: endBlock, newlines)
            chunks.append(ChunkDraft(
                ordinal: chunks.count,
                text: text,
                heading: heading,
                range: range,
                startLine: startLine,
                endLine: endLine,
                page: startBlock.page,
                tokenCount: TokenEstimator.count(scalars, in: range),
                contentHash: String(SHA256.hex(heading + "\u{1F}" + text).prefix(32)),
                locator: startBlock.locator?.label(page: startBlock.page, startLine: startLine, endLine: endLine),
                ocrConfidence: startBlock.locator?.ocrConfidence
            ))
        }

        for unit in units {
            if !current.isEmpty {
                let overflows = currentTokens + unit.tokens > maxTokens
                // Prefer a paragraph boundary once the chunk is half full and the next block will not fit.
                let paragraphBreak = unit.startsBlock && currentTokens * 2 >= maxTokens
                    && currentTokens + (blockTokens[unit.block] ?? unit.tokens) > maxTokens
                if overflows || paragraphBreak {
                    emit()
                    var tail: [Unit] = []
                    var tailTokens = 0
                    if !unit.startsBlock {
                        for previous in current.reversed() {
                            guard tailTokens + previous.tokens <= options.overlapTokens,
                                  tailTokens + previous.tokens + unit.tokens <= maxTokens else { break }
                            tail.insert(previous, at: 0)
                            tailTokens += previous.tokens
                        }
                        // Never repeat a whole chunk.
                        if tail.count == current.count { tail = []; tailTokens = 0 }
                    }
                    current = tail
                    currentTokens = tailTokens
                }
            }
            current.append(unit)
            currentTokens += unit.tokens
        }
        emit()
    }

    /// 1-based source line of a scalar offset inside a block.
    private func line(of offset: Int, in block: TextBlock, _ newlines: [Int]) -> Int {
        block.startLine + newlines.countBelow(offset) - newlines.countBelow(block.range.lowerBound)
    }

    /// Splits a range that exceeds the budget at spaces, punctuation or between CJK characters.
    private func hardSplit(_ scalars: [Unicode.Scalar], _ range: Range<Int>, maxTokens: Int) -> [(range: Range<Int>, tokens: Int)] {
        let total = TokenEstimator.count(scalars, in: range)
        if total <= maxTokens { return [(range, total)] }
        var parts: [(Range<Int>, Int)] = []
        var start = range.lowerBound
        var tokens = 0
        var lastBreak: (index: Int, tokens: Int)?
        var i = range.lowerBound
        while i < range.upperBound {
            let scalar = scalars[i]
            var atomEnd = i + 1
            var atomTokens = 0
            if Script.isCJK(scalar.value) {
                atomTokens = 1
            } else if Script.isWordCharacter(scalar) {
                while atomEnd < range.upperBound, Script.isWordCharacter(scalars[atomEnd]) { atomEnd += 1 }
                atomTokens = 1 + (atomEnd - i - 1) / 6
            } else if !scalar.properties.isWhitespace {
                atomTokens = 1
            }
            if tokens + atomTokens > maxTokens && i > start {
                var cut = i
                var cutTokens = tokens
                if let lb = lastBreak, lb.tokens * 4 >= maxTokens * 3 { cut = lb.index; cutTokens = lb.tokens }
                if let trimmed = SentenceSplitter.trim(scalars, start..<cut) { parts.append((trimmed, cutTokens)) }
                start = cut
                tokens = TokenEstimator.count(scalars, in: cut..<i)
                lastBreak = nil
            }
            tokens += atomTokens
            if scalar.properties.isWhitespace || (!Script.isWordCharacter(scalar) && !Script.isCJK(scalar.value)) {
                lastBreak = (atomEnd, tokens)
            }
            i = atomEnd
        }
        if let trimmed = SentenceSplitter.trim(scalars, start..<range.upperBound) {
            parts.append((trimmed, TokenEstimator.count(scalars, in: trimmed)))
        }
        return parts
    }
}

extension Array where Element == Int {
    /// Number of elements below `value` in a sorted array.
    func countBelow(_ value: Int) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
