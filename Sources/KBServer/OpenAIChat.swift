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

    func complete(_ request: Request) async throws -> Response {
        let object = try await JSONBody.object(request, limit: server.settings.maxBodyBytes, allowed: [
            "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens", "max_completion_tokens",
            "seed", "n", "user", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "response_format", "tools",
            "tool_choice", "parallel_tool_calls", "metadata", "store",
        ])
        guard let messages = object["messages"] as? [[String: Any]], !messages.isEmpty else {
            throw APIError(.badRequest, "invalid_request_error", "Field \"messages\" must be a non-empty array of {role, content}.")
        }
        var turns: [(role: String, content: String)] = []
        for message in messages {
            guard let role = message["role"] as? String else {
                throw APIError(.badRequest, "invalid_request_error", "Every message needs a \"role\".")
            }
            turns.append((role, Self.text(of: message["content"])))
        }
        guard let last = turns.last(where: { $0.role == "user" }), !last.content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError(.badRequest, "invalid_request_error", "The messages need a user message with text: the question.")
        }
        // Earlier user messages paired with the assistant reply that followed each.
        var prior: [(question: String, answer: String)] = []
        let lastIndex = turns.lastIndex(where: { $0.role == "user" })!
        for (index, turn) in turns.enumerated() where turn.role == "user" && index < lastIndex {
            let reply = turns[(index + 1)...].first(where: { $0.role == "assistant" })?.content ?? ""
            prior.append((turn.content, reply))
        }
        let stream = (object["stream"] as? NSNumber).map { Fields.isBool($0) && $0.boolValue } ?? false
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = Int(Date().timeIntervalSince1970)
        let kb = server.kb
        let question = last.content
        let priorTurns = prior
        let ask: @Sendable (@escaping @Sendable (String) -> Void) async throws(KBError) -> Answer = { onText in
            try await kb.ask(question, priorTurns: priorTurns, onText: onText)
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
            case .answer(let answer):
                // The streamed text was the model's; the sources (and kb's verdict when it differs) close the message.
                var tail = ""
                if answer.abstained, let generated = answer.generatedText, !generated.isEmpty {
                    tail = "\n\n" + answer.answer
                }
                tail += Self.sources(answer)
                return chunk(["content": tail]) + chunk([:], finish: "stop", extra: Self.extra(answer)) + "data: [DONE]\n\n"
            case .error(let error):
                return ServerSentEvent.encode(json: ["error": ["message": error.message, "type": error.type]]) + "data: [DONE]\n\n"
            }
        }
    }

    /// A message's text: a string, or the text parts of an array of content parts.
    static func text(of content: Any?) -> String {
        if let string = content as? String { return string }
        if let parts = content as? [[String: Any]] {
            return parts.compactMap { $0["type"] as? String == "text" ? $0["text"] as? String : nil }.joined(separator: "\n")
        }
        return ""
    }

    static func content(_ answer: Answer) -> String { answer.answer + sources(answer) }

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
