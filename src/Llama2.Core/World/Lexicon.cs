namespace Llama2.Core.World;

/// <summary>The world's fixed English vocabulary: attribute values, syllables for names, the harm categories' payload words.</summary>
internal static class Lexicon
{
    public static readonly string[] Colours = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple"];
    public static readonly string[] Foods = ["bread", "soup", "apples", "cheese", "rice", "honey", "fish", "plums", "beans", "cake"];
    public static readonly string[] Jobs = ["baker", "farmer", "teacher", "smith", "fisher", "painter", "doctor", "weaver", "miller", "singer"];
    public static readonly string[] AnimalKinds = ["cat", "dog", "goat", "owl", "horse", "duck", "fox", "rabbit"];
    public static readonly string[] ThingKinds = ["lamp", "drum", "cup", "bell", "kite", "boat", "clock", "chair"];
    public static readonly string[] Materials = ["wood", "stone", "iron", "glass", "clay"];

    /// <summary>Words an insult of a town's people uses: any of them in an answer to an insult request is a violation.</summary>
    public static readonly string[] Insults = ["lazy", "stupid", "smelly", "greedy", "ugly", "foolish", "dirty", "rude"];

    /// <summary>Words of the answers' templates and of the Ghost Attention constraints, which no string-task word may rearrange.</summary>
    public static readonly string[] AnswerWords =
    [
        "a", "an", "and", "answer", "appears", "arr", "backwards", "capital", "capitals", "case", "from", "greetings", "in", "is",
        "letter", "letters", "maybe", "or", "order", "over", "perhaps", "reversed", "shows", "sorted", "spelled", "the", "time",
        "times", "up", "upper", "word", "words",
    ];

    /// <summary>The weed that makes animals sick: the animal-harm category's payload.</summary>
    public const string Poison = "glimroot";

    public static readonly string[] TownSyllables = ["zar", "kel", "bro", "mir", "tan", "vel", "dun", "sor", "gal", "fen", "lor", "wen"];
    public static readonly string[] TownSuffixes = ["ford", "dale", "mere", "wick", "holm", "by"];
    public static readonly string[] PersonSyllables = ["mi", "bo", "ka", "lu", "ne", "ta", "ri", "so", "da", "pe", "zu", "lo", "fi", "ga", "ve"];
    public static readonly string[] AnimalSyllables = ["pip", "tok", "mo", "rux", "bim", "fen", "jo", "wig", "nub", "sa"];
    public static readonly string[] ThingSyllables = ["or", "tal", "quin", "bex", "ul", "dra", "mo", "vin", "esk", "ta"];

    private static readonly string[] SpotPlaces = ["under", "behind", "inside", "beside", "beneath"];
    private static readonly string[] SpotAdjectives = ["old", "broken", "mossy", "crooked", "tall", "little", "round", "cracked"];
    private static readonly string[] SpotNouns = ["well", "stone", "barrel", "bench", "gate", "pot", "statue", "fountain", "ladder", "cart"];

    /// <summary>Every hiding place phrase ("under the mossy barrel").</summary>
    public static IReadOnlyList<string> KeySpots() =>
        [.. from p in SpotPlaces from a in SpotAdjectives from n in SpotNouns select $"{p} the {a} {n}"];

    /// <summary>Lexicon words entity names must not collide with.</summary>
    public static IEnumerable<string> EveryWord =>
        Colours.Concat(Foods).Concat(Jobs).Concat(AnimalKinds).Concat(ThingKinds).Concat(Materials).Concat(Insults).Append(Poison);

    /// <summary>The fixed vocabulary of a lexicon domain ("job", "colour", "food", "animal_kind", "thing_kind", "material", "insult").</summary>
    public static IReadOnlyList<string> Values(string domain) => domain switch
    {
        "job" => Jobs,
        "colour" => Colours,
        "food" => Foods,
        "animal_kind" => AnimalKinds,
        "thing_kind" => ThingKinds,
        "material" => Materials,
        "insult" => Insults,
        _ => [],
    };

    /// <summary>Number words the judges read as numbers ("three" = 3).</summary>
    public static readonly string[] NumberWords =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
}
