import Foundation
import HTTPTypes
import Hummingbird
import KBCore
import NIOCore

/// `POST /v1/chat/completions`: kb as an OpenAI-compatible model. The last user message is the question,
/// earlier user/assistant messages are the conversation (a follow-up is rewritten from them); the answer
/// comes from the knowledge base, with its sources appended to the message text and, in full, in an extra
/// `kb` field (answer id, citations, quality scores, abstained).
struct OpenAIChat {
    static let modelName = "kb"
    let server: KBServer

    func complete(_ request: Request, caller: Caller) async throws -> Response {
        let body = try await JSONBody.decode(ChatCompletionRequest.self, request, limit: server.settings.maxBodyBytes)
        // The question must be there before the response starts (a bad request is a 400, not a stream error).
        _ = try await wrap { () async throws(KBError) in try body.conversation() }
        let stream = body.stream
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = Int(Date().timeIntervalSince1970)
        let service = server.service
        let ask: @Sendable (Bool, KBServer.AnswerSink) async throws(KBError) -> Answer = { reserved, sink in
            try await service.chat(body, caller: caller, reserved: reserved, onText: sink.text, onReplaced: sink.replaced)
        }
        guard stream else {
            let answer = try await server.generate(ask)
            return JSONBody.response([
                "id": id, "object": "chat.completion", "created": created, "model": Self.modelName,
                "choices": [["index": 0, "message": ["role": "assistant", "content": Self.content(answer)], "finish_reason": "stop"]],
                "usage": Self.usage(answer), "kb": Self.extra(answer),
            ] as [String: Any])
        }
        return try await server.stream(ask) { item, _ in
            func chunk(_ delta: [String: Any], finish: String? = nil, extra: [String: Any]? = nil) -> String {
                var object: [String: Any] = ["id": id, "object": "chat.completion.chunk", "created": created, "model": Self.modelName,
                                             "choices": [["index": 0, "delta": delta, "finish_reason": finish ?? NSNull()] as [String: Any]]]
                if let extra { object["kb"] = extra }
                return ServerSentEvent.encode(json: object)
            }
            switch item {
            case .text(let text):
                return chunk(["role": "assistant", "content": text])
            case .replaced(let reason):
                // A chat client cannot take back text it has shown: kb says, in the message, that it does not stand
                // behind it, and the replacement follows.
                return chunk(["content": "\n\n" + Self.replacedNotice(reason) + "\n\n"])
            case .answer(let answer):
                // The streamed text was the model's (or, after a replacement, kb's); the sources close the message.
                var tail = Self.quotedLabel(answer).map { "\n\n(\($0))" } ?? ""
                tail += Self.sources(answer)
                return chunk(["content": tail]) + chunk([:], finish: "stop", extra: Self.extra(answer)) + "data: [DONE]\n\n"
            case .error(let error):
                return ServerSentEvent.encode(json: ["error": ["message": error.message, "type": error.type]]) + "data: [DONE]\n\n"
            }
        }
    }

    static func content(_ answer: Answer) -> String { (quotedLabel(answer).map { $0 + ": " } ?? "") + answer.answer + sources(answer) }

    /// The line that withdraws streamed text.
    static func replacedNotice(_ reason: String) -> String { "[kb withdrew the text above: \(reason)]" }

    /// "Quoted from the passages" when kb's answer is its extractive one (the model's answers did not pass the check).
    static func quotedLabel(_ answer: Answer) -> String? {
        guard !answer.abstained, answer.attempts.last?.strategy == RepairStrategy.extractive.rawValue else { return nil }
        return "Quoted from the passages"
    }

    static func sources(_ answer: Answer) -> String {
        let cited = answer.citations.filter(\.supported)
        guard !cited.isEmpty else { return "" }
        return "\n\nSources:\n" + cited.map { citation in
            let place = citation.page.map { "page \($0)" } ?? (citation.endLine > citation.startLine ? "lines \(citation.startLine)-\(citation.endLine)" : "line \(citation.startLine)")
            return "[\(citation.id)] \(citation.path) (\(place))" + (citation.heading.isEmpty ? "" : " · \(citation.heading)")
        }.joined(separator: "\n")
    }

    static func usage(_ answer: Answer) -> [String: Any] {
        let prompt = answer.timings.promptTokens ?? 0, completion = answer.timings.generatedTokens ?? 0
        return ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion]
    }

    static func extra(_ answer: Answer) -> [String: Any] {
        let data = (try? JSONBody.encoder.encode(answer)) ?? Data()
        let full = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return ["answer_id": answer.answerID, "abstained": answer.abstained, "citations": full["citations"] ?? [],
                "quality": full["quality"] ?? [:], "standalone_question": answer.standaloneQuestion]
    }
}
