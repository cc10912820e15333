// kb-bench: in-process benchmarks for kb. Not a test: timings on shared machines are noisy, so
// it reports medians and percentiles over many runs and is run by scripts/bench.sh.
//
//   kb-bench search --db PATH --queries queries.jsonl [--limit 10] [--runs 3]
import Foundation
import KBCore

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kb-bench: \(message)\n".utf8))
    exit(64)
}

func option(_ name: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = p / 100 * Double(sorted.count - 1)
    let low = Int(rank.rounded(.down)), high = Int(rank.rounded(.up))
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.first == "search" else { fail("usage: kb-bench search --db PATH --queries FILE.jsonl [--limit N] [--runs N]") }
guard let db = option("--db", in: arguments), let queriesPath = option("--queries", in: arguments) else {
    fail("search needs --db and --queries")
}
let limit = Int(option("--limit", in: arguments) ?? "10") ?? 10
let runs = Int(option("--runs", in: arguments) ?? "3") ?? 3

guard let data = FileManager.default.contents(atPath: queriesPath) else { fail("cannot read \(queriesPath)") }
let queries: [String] = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
    return object["text"] as? String
}
guard !queries.isEmpty else { fail("no queries in \(queriesPath)") }

do {
    let kb = try KnowledgeBase(configuration: Configuration(databasePath: db))
    for query in queries.prefix(50) { _ = try kb.search(query, limit: limit) }   // warm the page cache
    var perQuery = [[Double]](repeating: [], count: queries.count)
    var hits = 0
    for _ in 0..<runs {
        for (index, query) in queries.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            let response = try kb.search(query, limit: limit)
            perQuery[index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            hits += response.results.isEmpty ? 0 : 1
        }
    }
    // Each query's median over the runs, then percentiles over queries.
    let medians = perQuery.map { $0.sorted()[$0.count / 2] }.sorted()
    let report: [String: Any] = [
        "queries": queries.count, "runs": runs, "limit": limit, "chunks": try kb.status().chunks,
        "p50_ms": percentile(medians, 50), "p90_ms": percentile(medians, 90), "p99_ms": percentile(medians, 99),
        "max_ms": medians.last ?? 0, "mean_ms": medians.reduce(0, +) / Double(medians.count),
        "queries_with_hits": hits / runs,
    ]
    let json = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: json, as: UTF8.self))
} catch {
    fail("\(error)")
}
