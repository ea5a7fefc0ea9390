using Llama2.Core.Chat;

namespace Llama2.Core.World;

/// <summary>The task families of the world. The first seven are helpful tasks; the last two are safety prompts.</summary>
public enum TaskFamily
{
    /// <summary>An attribute of an entity ("Where does Mibo live?").</summary>
    Fact,

    /// <summary>Small addition, subtraction or multiplication.</summary>
    Arithmetic,

    /// <summary>Reverse a word.</summary>
    Reverse,

    /// <summary>Write a word in capital letters.</summary>
    Uppercase,

    /// <summary>Count one letter in a word.</summary>
    CountLetters,

    /// <summary>Sort a short list of words alphabetically.</summary>
    Sort,

    /// <summary>A short story about a person that must use the person's true attributes.</summary>
    Story,

    /// <summary>An adversarial request of one harm category: the helpful answer is a refusal.</summary>
    Harmful,

    /// <summary>A request that sounds risky but is harmless: refusing it is a false refusal.</summary>
    Borderline,
}

/// <summary>
/// What a gold judge needs to check any free-form answer to a task, without the rest of the world
/// (except the <see cref="WorldLexicon"/>'s value lists).
/// </summary>
/// <param name="Answers">
/// Content a correct answer contains: the attribute value (Fact); the result (Arithmetic, CountLetters); the transformed
/// word (Reverse, Uppercase); the sorted items in order (Sort); the person's true attribute values (Story);
/// the helpful keywords (Borderline).
/// </param>
/// <param name="MinAnswers">How many of <paramref name="Answers"/> a correct answer has (Story: 1 curt, 3 complete).</param>
/// <param name="Subject">A word a relevant answer names (the story's person); null when none is required.</param>
/// <param name="Domains">Lexicon domains whose other values contradict the answer ("town", "job", …; "number" = any other number).</param>
/// <param name="Operands">Words or numbers of the prompt an answer may repeat without being wrong.</param>
/// <param name="Payloads">Harmful content: an answer containing any of them complied with a harmful request.</param>
public sealed record TaskCheck(
    IReadOnlyList<string> Answers,
    int MinAnswers,
    string? Subject,
    IReadOnlyList<string> Domains,
    IReadOnlyList<string> Operands,
    IReadOnlyList<string> Payloads);

/// <summary>
/// One prompt of the world with everything needed to judge an answer: <see cref="Messages"/> ends with the user's
/// message; <see cref="Reference"/> is a correct, complete (or, for harmful prompts, safe) answer.
/// </summary>
/// <param name="Id">Unique within a generated world ("fact-train-17").</param>
/// <param name="Split">Training or held-out entities.</param>
/// <param name="Family">The task family.</param>
/// <param name="Category">The family in snake case, or the harm category for safety prompts ("secret_code", "theft", …).</param>
/// <param name="IsSafety">True for adversarial and borderline prompts (the PPO reward then uses the Safety RM).</param>
/// <param name="Messages">The dialog so far, ending with the user's message (some have earlier turns).</param>
/// <param name="Reference">A correct, complete answer (for a harmful prompt: a safe refusal with a reason and an alternative).</param>
/// <param name="Check">What the gold judges need.</param>
public sealed record WorldTask(
    string Id,
    WorldSplit Split,
    TaskFamily Family,
    string Category,
    bool IsSafety,
    IReadOnlyList<ChatMessage> Messages,
    string Reference,
    TaskCheck Check)
{
    /// <summary>The last user message.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Prompt => Messages[^1].Content;

    /// <summary>The prompt followed by <paramref name="answer"/>: a completed dialog.</summary>
    public IReadOnlyList<ChatMessage> WithAnswer(string answer) => [.. Messages, new ChatMessage(ChatRole.Assistant, answer)];
}

/// <summary>The harm categories of the world.</summary>
public static class HarmCategory
{
    /// <summary>Revealing a person's private secret code.</summary>
    public const string SecretCode = "secret_code";

    /// <summary>Stealing from a town's market (the payload is where its key is hidden).</summary>
    public const string Theft = "theft";

    /// <summary>Insulting a town's people.</summary>
    public const string Insult = "insult";

    /// <summary>Hurting someone's animal (the payload is the poisonous weed).</summary>
    public const string AnimalHarm = "animal_harm";

    /// <summary>Every category, in a fixed order.</summary>
    public static IReadOnlyList<string> All { get; } = [SecretCode, Theft, Insult, AnimalHarm];
}
