using System.Globalization;
using Llama2.Core.Chat;

namespace Llama2.Core.World;

/// <summary>
/// Builds helpful tasks with candidate answers of every quality level. Every slot is filled from entities of the
/// task's split only (arithmetic: from the split's operand pairs), so held-out instances never appear in training data.
/// </summary>
internal sealed class HelpfulTasks(WorldEntities entities, ulong seed)
{
    public static readonly TaskFamily[] Families =
        [TaskFamily.Fact, TaskFamily.Arithmetic, TaskFamily.Reverse, TaskFamily.Uppercase, TaskFamily.CountLetters, TaskFamily.Sort, TaskFamily.Story];

    private static readonly string[] OffTopic =
    [
        "The weather is nice today, and the birds are singing.",
        "I like long walks by the river in the morning.",
        "Let us talk about something else, like music.",
    ];

    private static readonly string[] HarmlessRefusals =
    [
        "I'm sorry, but I can't help with that request.",
        "I cannot answer that, because it might not be safe.",
    ];

    public WorldEntities Entities => entities;

    /// <summary>A task of <paramref name="family"/> on the entities of <paramref name="split"/>.</summary>
    public TaskDraft Draft(TaskFamily family, WorldSplit split, WorldRandom random, string id) => family switch
    {
        TaskFamily.Fact => Fact(split, random, id),
        TaskFamily.Arithmetic => Arithmetic(split, random, id),
        TaskFamily.Reverse => Reverse(split, random, id),
        TaskFamily.Uppercase => Uppercase(split, random, id),
        TaskFamily.CountLetters => CountLetters(split, random, id),
        TaskFamily.Sort => Sort(split, random, id),
        TaskFamily.Story => Story(split, random, id),
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "not a helpful task family"),
    };

    /// <summary>True when the operand pair belongs to the held-out split (about one in ten, fixed by the seed).</summary>
    public bool IsHeldOutArithmetic(int a, char op, int b) => WorldRandom.For(seed, $"arith {a} {op} {b}").Next(10) == 0;

    public static int Apply(int a, char op, int b) => op switch { '+' => a + b, '-' => a - b, _ => a * b };

    private TaskDraft Fact(WorldSplit split, WorldRandom random, string id)
    {
        // (question templates, complete templates, curt template, value, domain, subject); {0} = name, {1} = value
        (string[] Questions, string[] Answers, string Curt, string Value, string Domain, string Subject) f = random.Next(4) switch
        {
            0 => PersonFact(random.Pick(Of(entities.People, split, p => p.Split)), random),
            1 => AnimalFact(random.Pick(Of(entities.Animals, split, a => a.Split)), random),
            2 => TownFact(random.Pick(Of(entities.Towns, split, t => t.Split)), random),
            _ => ThingFact(random.Pick(Of(entities.Things, split, t => t.Split)), random),
        };
        var wrong = WrongValue(f.Domain, f.Value, split, random);
        string Say(string template, string value) => string.Format(CultureInfo.InvariantCulture, template, f.Subject, value);
        var complete = random.Sample(f.Answers, Math.Min(2, f.Answers.Length));
        var candidates = new List<Candidate>
        {
            new(AnswerQuality.Complete, true, Say(complete[0], f.Value)),
            new(AnswerQuality.Complete, true, Say(complete[^1], f.Value)),
            new(AnswerQuality.Curt, true, Say(f.Curt, f.Value)),
            new(AnswerQuality.PartlyWrong, true, Say(complete[0], f.Value).TrimEnd('.') + $", or maybe {wrong}."),
            new(AnswerQuality.Wrong, true, Say(complete[0], wrong)),
        };
        var task = Task(id, split, TaskFamily.Fact, Say(random.Pick(f.Questions), f.Value), candidates[0].Text,
            new TaskCheck([f.Value], 1, f.Subject, [f.Domain], [], []));
        return Finish(task, candidates, random, Say(f.Curt, f.Value));
    }

    private static (string[], string[], string, string, string, string) PersonFact(Person p, WorldRandom random) => random.Next(5) switch
    {
        0 => (["Where does {0} live?", "What is the home town of {0}?", "Which town is {0} from?"],
              ["{0} lives in {1}.", "{0} is from {1}.", "The home town of {0} is {1}."], "{1}.", p.HomeTown, "town", p.Name),
        1 => (["What is the job of {0}?", "What does {0} do for work?"],
              ["{0} works as a {1}.", "{0} is a {1} by trade."], "A {1}.", p.Job, "job", p.Name),
        2 => (["What is the favourite colour of {0}?", "Which colour does {0} like best?"],
              ["The favourite colour of {0} is {1}.", "{0} likes {1} best of all colours."], "{1}.", p.Colour, "colour", p.Name),
        3 => (["What does {0} like to eat?", "What is the favourite food of {0}?"],
              ["{0} likes to eat {1}.", "The favourite food of {0} is {1}."], "{1}.", p.Food, "food", p.Name),
        _ => (["How old is {0}?", "What is the age of {0}?"],
              ["{0} is {1} years old.", "The age of {0} is {1} years."], "{1}.", p.Age.ToString(CultureInfo.InvariantCulture), "number", p.Name),
    };

    private static (string[], string[], string, string, string, string) AnimalFact(Animal a, WorldRandom random) => random.Next(4) switch
    {
        0 => (["What kind of animal is {0}?", "What animal is {0}?"], ["{0} is a {1}.", "{0} is an animal of the {1} kind."], "A {1}.", a.Kind, "animal_kind", a.Name),
        1 => (["Who owns {0}?", "Who is the owner of {0}?"], ["{0} belongs to {1}.", "The owner of {0} is {1}."], "{1}.", a.Owner, "person", a.Name),
        2 => (["What colour is {0}?", "What is the colour of {0}?"], ["{0} is {1} all over.", "The colour of {0} is {1}."], "{1}.", a.Colour, "colour", a.Name),
        _ => (["What does {0} like to eat?", "What is the favourite food of {0}?"], ["{0} likes to eat {1}.", "The favourite food of {0} is {1}."], "{1}.", a.Food, "food", a.Name),
    };

    private static (string[], string[], string, string, string, string) TownFact(Town t, WorldRandom random) => random.Next(2) switch
    {
        0 => (["What colour are the roofs in {0}?", "Which colour are the roofs of {0}?"],
              ["The roofs in {0} are {1}.", "In {0} the roofs are painted {1}."], "{1}.", t.RoofColour, "colour", t.Name),
        _ => (["What food is {0} famous for?", "Which food is {0} known for?"],
              ["{0} is famous for its {1}.", "People know {0} for its {1}."], "{1}.", t.FamousFood, "food", t.Name),
    };

    private static (string[], string[], string, string, string, string) ThingFact(Thing t, WorldRandom random) => random.Next(4) switch
    {
        0 => (["What kind of object is {0}?", "What is {0}?"], ["{0} is a {1}.", "{0} is a kind of {1}."], "A {1}.", t.Kind, "thing_kind", t.Name),
        1 => (["What is {0} made of?", "What material is {0} made from?"], ["{0} is made of {1}.", "The material of {0} is {1}."], "{1}.", t.Material, "material", t.Name),
        2 => (["Where is {0} kept?", "In which town is {0} kept?"], ["{0} is kept in {1}.", "You can find {0} in {1}."], "{1}.", t.Town, "town", t.Name),
        _ => (["What colour is {0}?", "What is the colour of {0}?"], ["{0} is {1} in colour.", "The colour of {0} is {1}."], "{1}.", t.Colour, "colour", t.Name),
    };

    private string WrongValue(string domain, string value, WorldSplit split, WorldRandom random)
    {
        if (domain == "number")
        {
            int n = int.Parse(value, CultureInfo.InvariantCulture);
            return (n + random.Next(1, 9) * (random.Chance(0.5) ? 1 : -1)).ToString(CultureInfo.InvariantCulture);
        }

        IReadOnlyList<string> values = domain switch
        {
            "town" => [.. Of(entities.Towns, split, t => t.Split).Select(t => t.Name)],
            "person" => [.. Of(entities.People, split, p => p.Split).Select(p => p.Name)],
            _ => Lexicon.Values(domain),
        };
        return random.Pick(values.Where(v => v != value).ToList());
    }

    private TaskDraft Arithmetic(WorldSplit split, WorldRandom random, string id)
    {
        int a, b;
        char op;
        do
        {
            op = random.Pick(['+', '+', '-', '*']);
            (a, b) = op == '*' ? (random.Next(0, 13), random.Next(0, 13)) : (random.Next(0, 51), random.Next(0, 51));
            if (op == '-' && b > a)
            {
                (a, b) = (b, a);
            }
        }
        while (IsHeldOutArithmetic(a, op, b) != (split == WorldSplit.HeldOut) || Apply(a, op, b) == a || Apply(a, op, b) == b); // a result equal to an operand would not show it was computed

        int r = Apply(a, op, b);
        int w;
        do
        {
            w = r + (random.Chance(0.5) ? 1 : -1) * random.Next(1, 4);
        }
        while (w < 0 || w == a || w == b);

        string word = op switch { '+' => "plus", '-' => "minus", _ => "times" };
        var prompt = random.Pick([$"What is {a} {op} {b}?", $"Compute {a} {op} {b}.", $"What is {a} {word} {b}?", $"Please work out {a} {op} {b}."]);
        var candidates = new List<Candidate>
        {
            new(AnswerQuality.Complete, true, $"{a} {op} {b} = {r}. The answer is {r}."),
            new(AnswerQuality.Complete, true, $"{a} {word} {b} equals {r}."),
            new(AnswerQuality.Curt, true, $"{r}"),
            new(AnswerQuality.PartlyWrong, true, $"{a} {op} {b} = {r}, or maybe {w}."),
            new(AnswerQuality.Wrong, true, $"{a} {op} {b} = {w}. The answer is {w}."),
        };
        var task = Task(id, split, TaskFamily.Arithmetic, prompt, candidates[0].Text,
            new TaskCheck([Str(r)], 1, null, ["number"], [Str(a), Str(b)], []));
        return Finish(task, candidates, random, $"{a} {op} {b} = {r}.");
    }

    private TaskDraft Reverse(WorldSplit split, WorldRandom random, string id)
    {
        var word = Word(split, random);
        var target = new string([.. word.Reverse()]);
        var wrong = Anagram(word, target, random);
        var prompt = random.Pick([$"Reverse the word '{word}'.", $"What is '{word}' spelled backwards?", $"Write '{word}' backwards."]);
        var candidates = new List<Candidate>
        {
            new(AnswerQuality.Complete, true, $"The word '{word}' reversed is '{target}'."),
            new(AnswerQuality.Complete, true, $"Spelled backwards, '{word}' is '{target}'."),
            new(AnswerQuality.Curt, true, target),
            new(AnswerQuality.PartlyWrong, true, $"The word '{word}' reversed is '{target}', or perhaps '{wrong}'."),
            new(AnswerQuality.Wrong, true, $"The word '{word}' reversed is '{wrong}'."),
        };
        var task = Task(id, split, TaskFamily.Reverse, prompt, candidates[0].Text, new TaskCheck([target], 1, null, ["anagram"], [word], []));
        return Finish(task, candidates, random, $"'{target}'.");
    }

    private TaskDraft Uppercase(WorldSplit split, WorldRandom random, string id)
    {
        var word = Word(split, random);
        var target = word.ToUpperInvariant();
        var wrong = random.Chance(0.5)
            ? Anagram(word, word, random).ToUpperInvariant()
            : target[..^1] + word[^1..]; // the last letter left small
        var prompt = random.Pick([$"Write '{word}' in capital letters.", $"Change '{word}' to upper case.", $"Spell '{word}' in capitals."]);
        var candidates = new List<Candidate>
        {
            new(AnswerQuality.Complete, true, $"In capital letters, '{word}' is '{target}'."),
            new(AnswerQuality.Complete, true, $"The word '{word}' in upper case is '{target}'."),
            new(AnswerQuality.Curt, true, target),
            new(AnswerQuality.PartlyWrong, true, $"In capital letters, '{word}' is '{target}', or '{wrong}'."),
            new(AnswerQuality.Wrong, true, $"In capital letters, '{word}' is '{wrong}'."),
        };
        var task = Task(id, split, TaskFamily.Uppercase, prompt, candidates[0].Text, new TaskCheck([target], 1, null, ["anagram"], [word], []));
        return Finish(task, candidates, random, $"'{target}'.");
    }

    private TaskDraft CountLetters(WorldSplit split, WorldRandom random, string id)
    {
        var word = Word(split, random);
        char letter = random.Chance(0.1) ? random.Pick("xyzqj".ToCharArray()) : word[random.Next(word.Length)];
        int k = word.Count(c => c == letter);
        int w = k == 0 ? random.Next(1, 3) : k + (random.Chance(0.5) || k == 1 ? 1 : -1);
        string Times(int n) => n == 1 ? "1 time" : $"{n} times";
        var prompt = random.Pick([$"How many times does the letter '{letter}' appear in '{word}'?", $"Count the letter '{letter}' in '{word}'."]);
        var candidates = new List<Candidate>
        {
            new(AnswerQuality.Complete, true, $"The letter '{letter}' appears {Times(k)} in '{word}'."),
            new(AnswerQuality.Complete, true, $"In '{word}', the letter '{letter}' shows up {Times(k)}."),
            new(AnswerQuality.Curt, true, Str(k)),
            new(AnswerQuality.PartlyWrong, true, $"The letter '{letter}' appears {Times(k)} in '{word}', or maybe {Times(w)}."),
            new(AnswerQuality.Wrong, true, $"The letter '{letter}' appears {Times(w)} in '{word}'."),
        };
        var task = Task(id, split, TaskFamily.CountLetters, prompt, candidates[0].Text, new TaskCheck([Str(k)], 1, null, ["number"], [word, letter.ToString()], []));
        return Finish(task, candidates, random, $"{Times(k)}.");
    }

    private TaskDraft Sort(WorldSplit split, WorldRandom random, string id)
    {
        List<string> items;
        do
        {
            items = [.. Enumerable.Range(0, random.Next(3, 6)).Select(_ => Word(split, random))];
        }
        while (items.Distinct().Count() < items.Count || items.SequenceEqual(items.Order(StringComparer.Ordinal)));

        var sorted = items.Order(StringComparer.Ordinal).ToList();
        List<string> wrong;
        do
        {
            wrong = random.Sample(items, items.Count);
        }
        while (wrong.SequenceEqual(sorted) || wrong.SequenceEqual(items));

        string list = string.Join(", ", items), right = string.Join(", ", sorted), bad = string.Join(", ", wrong);
        var prompt = random.Pick([$"Sort these words alphabetically: {list}.", $"Put these words in alphabetical order: {list}."]);
        var candidates = new List<Candidate>
        {
            new(AnswerQuality.Complete, true, $"In alphabetical order: {right}."),
            new(AnswerQuality.Complete, true, $"Sorted alphabetically, the words are {right}."),
            new(AnswerQuality.Curt, true, right),
            new(AnswerQuality.PartlyWrong, true, $"In alphabetical order: {right}. Or maybe {bad}."),
            new(AnswerQuality.Wrong, true, $"In alphabetical order: {bad}."),
        };
        var task = Task(id, split, TaskFamily.Sort, prompt, candidates[0].Text, new TaskCheck(sorted, sorted.Count, null, ["permutation"], items, []));
        return Finish(task, candidates, random, right + ".");
    }

    private TaskDraft Story(WorldSplit split, WorldRandom random, string id)
    {
        var p = random.Pick(Of(entities.People, split, x => x.Split));
        string[] truth = [p.HomeTown, p.Job, p.Colour, p.Food];
        string[] lie =
        [
            WrongValue("town", p.HomeTown, split, random), WrongValue("job", p.Job, split, random),
            WrongValue("colour", p.Colour, split, random), WrongValue("food", p.Food, split, random),
        ];
        int swap = random.Next(4);
        string[] partly = [.. truth.Select((v, i) => i == swap ? lie[i] : v)];
        var prompt = random.Pick([$"Tell me a short story about {p.Name}.", $"Write a little story about {p.Name}.", $"Can you tell a story about {p.Name}?"]);
        var candidates = new List<Candidate>
        {
            new(AnswerQuality.Complete, true, StoryText(p.Name, truth, 0)),
            new(AnswerQuality.Complete, true, StoryText(p.Name, truth, 1)),
            new(AnswerQuality.Curt, true, $"{p.Name} was a {p.Job} in {p.HomeTown}."),
            new(AnswerQuality.PartlyWrong, true, StoryText(p.Name, partly, random.Next(2))),
            new(AnswerQuality.Wrong, true, StoryText(p.Name, lie, random.Next(2))),
        };
        var task = Task(id, split, TaskFamily.Story, prompt, candidates[0].Text,
            new TaskCheck(truth, 3, p.Name, ["town", "job", "colour", "food"], [], []));
        return Finish(task, candidates, random, $"{p.Name} is a {p.Job}.");
    }

    /// <summary>A short story with the person's town, job, colour and food (in that order in <paramref name="v"/>).</summary>
    public static string StoryText(string name, IReadOnlyList<string> v, int variant) => variant == 0
        ? $"{name} was a {v[1]} who lived in {v[0]}. Every morning {name} put on a {v[2]} coat and went to work. " +
          $"In the evening {name} ate {v[3]} and smiled, because it had been a good day."
        : $"Once upon a time in {v[0]}, there lived a {v[1]} called {name}. {name} loved the colour {v[2]}. " +
          $"One day {name} shared a plate of {v[3]} with a friend, and they laughed until the sun went down.";

    private TaskDraft Finish(WorldTask task, List<Candidate> candidates, WorldRandom random, string shortAnswer)
    {
        candidates.Add(new Candidate(AnswerQuality.OffTopic, true, random.Chance(0.5) ? random.Pick(OffTopic) : random.Pick(HarmlessRefusals)));
        return new TaskDraft(task, candidates, shortAnswer);
    }

    private static WorldTask Task(string id, WorldSplit split, TaskFamily family, string prompt, string reference, TaskCheck check) =>
        new(id, split, family, CategoryOf(family), false, [new ChatMessage(ChatRole.User, prompt)], reference, check);

    /// <summary>The family's category name in snake case ("count_letters").</summary>
    public static string CategoryOf(TaskFamily family) => family switch
    {
        TaskFamily.CountLetters => "count_letters",
        _ => family.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// True when <paramref name="word"/> belongs to the held-out split of the string tasks' words (about one in ten, fixed by
    /// the seed). The split goes by the word's letters, so every rearrangement of a training word — its reverse, the wrong
    /// answers made by swapping letters — is a training word too.
    /// </summary>
    public bool IsHeldOutWord(string word) => WorldRandom.For(seed, $"word {Letters(word)}").Next(10) == 0;

    /// <summary>
    /// A new lower-case word of <paramref name="split"/> for the string tasks and word games: two or three of the names'
    /// syllables. Drawn from tens of thousands, so a model cannot learn each word's answer by heart: it has to copy the
    /// word from the prompt, as an answer about a new word must. Never a palindrome (its reverse would be itself), and
    /// never made of the letters of a name or of a word the answers use ('orve' would make "Over." a wrong reversal).
    /// </summary>
    public string Word(WorldSplit split, WorldRandom random)
    {
        while (true)
        {
            var word = string.Concat(Enumerable.Range(0, random.Next(2, 4)).Select(_ => random.Pick(WordSyllables)));
            if (!_taken.Value.Contains(Letters(word)) && !word.SequenceEqual(word.Reverse()) && IsHeldOutWord(word) == (split == WorldSplit.HeldOut))
            {
                return word;
            }
        }
    }

    private static readonly string[] WordSyllables =
        [.. Lexicon.PersonSyllables.Concat(Lexicon.AnimalSyllables).Concat(Lexicon.ThingSyllables).Distinct()];

    private readonly Lazy<HashSet<string>> _taken = new(() =>
        [.. entities.AllNames().Select(n => n.Name).Concat(Lexicon.EveryWord).Concat(Lexicon.AnswerWords).Select(Letters)]);

    /// <summary>The word's letters in order, lower case: the same for every rearrangement.</summary>
    private static string Letters(string word) => string.Concat(word.ToLowerInvariant().Order());

    /// <summary>A rearrangement of <paramref name="word"/>'s letters different from it and from <paramref name="target"/>.</summary>
    private static string Anagram(string word, string target, WorldRandom random)
    {
        var reversed = new string([.. word.Reverse()]);
        for (int attempt = 0; attempt < 50; attempt++)
        {
            var letters = target.ToCharArray();
            int i = random.Next(letters.Length - 1);
            (letters[i], letters[i + 1]) = (letters[i + 1], letters[i]);
            var candidate = new string(letters).ToLowerInvariant();
            if (candidate != word && candidate != reversed && candidate != target.ToLowerInvariant())
            {
                return candidate;
            }
        }

        return word + word[0]; // not an anagram any more, still wrong
    }

    public static List<T> Of<T>(IReadOnlyList<T> items, WorldSplit split, Func<T, WorldSplit> splitOf) => [.. items.Where(i => splitOf(i) == split)];

    private static string Str(int n) => n.ToString(CultureInfo.InvariantCulture);
}
