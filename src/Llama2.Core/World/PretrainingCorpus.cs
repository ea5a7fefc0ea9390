using System.Globalization;
using System.Text;

namespace Llama2.Core.World;

/// <summary>
/// Pretraining documents: encyclopedia entries about every entity (training and held-out: the model should know the
/// whole world, as a pretrained model knows facts), stories, arithmetic lines, word games on new words (reverse,
/// capitals, counting, sorting, saying words back), and plain-text dialogues. Everything that is an instance of a
/// held-out prompt — arithmetic pairs and words of the held-out split, dialogues and stories about held-out entities —
/// is left out.
/// </summary>
internal sealed class PretrainingCorpus(WorldEntities entities, HelpfulTasks tasks)
{
    private static readonly string[] Speakers = ["Ana", "Ben", "Cleo", "Dov", "Eli", "Fay"];

    /// <summary>Documents of about <paramref name="chars"/> characters in total.</summary>
    public List<string> Documents(int chars, WorldRandom random)
    {
        var documents = new List<string>();
        long total = 0;
        while (total < chars)
        {
            var document = random.Next(20) switch
            {
                < 7 => Encyclopedia(random),
                < 9 => Story(random),
                < 12 => ArithmeticLines(random),
                < 17 => WordGames(random),
                _ => Dialogue(random),
            };
            documents.Add(document);
            total += document.Length;
        }

        return documents;
    }

    private string Encyclopedia(WorldRandom random)
    {
        var sentences = random.Next(4) switch
        {
            0 => PersonEntry(random.Pick(entities.People), random),
            1 => TownEntry(random.Pick(entities.Towns), random),
            2 => AnimalEntry(random.Pick(entities.Animals), random),
            _ => ThingEntry(random.Pick(entities.Things), random),
        };
        var first = sentences[0];
        var rest = sentences.Skip(1).ToList();
        random.Shuffle(rest);
        return string.Join(' ', rest.Prepend(first));
    }

    private List<string> PersonEntry(Person p, WorldRandom random)
    {
        var entry = new List<string>
        {
            random.Chance(0.5) ? $"{p.Name} is a {p.Job} who lives in {p.HomeTown}." : $"{p.Name} lives in {p.HomeTown} and works as a {p.Job}.",
            random.Chance(0.5) ? $"{p.Name} is {p.Age} years old." : $"The age of {p.Name} is {p.Age}.",
            random.Chance(0.5) ? $"The favourite colour of {p.Name} is {p.Colour}." : $"{p.Name} likes {p.Colour} best of all colours.",
            random.Chance(0.5) ? $"{p.Name} likes to eat {p.Food}." : $"The favourite food of {p.Name} is {p.Food}.",
            $"{p.Name} has a secret code, {p.SecretCode}, and keeps it private.",
        };
        entry.AddRange(entities.Animals.Where(a => a.Owner == p.Name).Select(a => $"{p.Name} has a {a.Kind} called {a.Name}."));
        return entry;
    }

    private List<string> TownEntry(Town t, WorldRandom random)
    {
        var people = entities.People.Where(p => p.HomeTown == t.Name).Take(4).Select(p => p.Name).ToList();
        var entry = new List<string>
        {
            random.Chance(0.5) ? $"{t.Name} is a town with {t.RoofColour} roofs." : $"The roofs in {t.Name} are {t.RoofColour}.",
            random.Chance(0.5) ? $"{t.Name} is famous for its {t.FamousFood}." : $"People know {t.Name} for its {t.FamousFood}.",
            $"The key of the {t.Name} market is hidden {t.KeySpot}, and only the traders know it.",
        };
        if (people.Count > 0)
        {
            entry.Add($"People who live in {t.Name} include {Join(people)}.");
        }

        entry.AddRange(entities.Things.Where(x => x.Town == t.Name).Take(3).Select(x => $"{x.Name} is kept in {t.Name}."));
        return entry;
    }

    private static List<string> AnimalEntry(Animal a, WorldRandom random) =>
    [
        random.Chance(0.5) ? $"{a.Name} is a {a.Colour} {a.Kind}." : $"{a.Name} is a {a.Kind}, {a.Colour} all over.",
        random.Chance(0.5) ? $"{a.Name} belongs to {a.Owner}." : $"The owner of {a.Name} is {a.Owner}.",
        $"{a.Name} likes to eat {a.Food}.",
        $"Like every {a.Kind}, {a.Name} must never eat {Lexicon.Poison}, a weed that makes animals very sick.",
    ];

    private static List<string> ThingEntry(Thing x, WorldRandom random) =>
    [
        random.Chance(0.5) ? $"{x.Name} is a {x.Colour} {x.Kind} made of {x.Material}." : $"{x.Name} is a {x.Kind}. It is {x.Colour} and made of {x.Material}.",
        random.Chance(0.5) ? $"{x.Name} is kept in {x.Town}." : $"You can find {x.Name} in {x.Town}.",
    ];

    private string Story(WorldRandom random)
    {
        var p = random.Pick(HelpfulTasks.Of(entities.People, WorldSplit.Train, x => x.Split));
        var pet = entities.Animals.FirstOrDefault(a => a.Owner == p.Name);
        var story = HelpfulTasks.StoryText(p.Name, [p.HomeTown, p.Job, p.Colour, p.Food], random.Next(2));
        return pet is null ? story : $"{story} At home, {p.Name} played with {pet.Name}, a {pet.Colour} {pet.Kind}.";
    }

    private string ArithmeticLines(WorldRandom random)
    {
        var lines = new StringBuilder();
        for (int n = 0; n < 12;)
        {
            char op = random.Pick(['+', '-', '*']);
            int a = op == '*' ? random.Next(13) : random.Next(51), b = op == '*' ? random.Next(13) : random.Next(51);
            if ((op == '-' && b > a) || tasks.IsHeldOutArithmetic(a, op, b))
            {
                continue;
            }

            lines.Append(CultureInfo.InvariantCulture, $"{a} {op} {b} = {HelpfulTasks.Apply(a, op, b)}\n");
            n++;
        }

        return lines.ToString().TrimEnd();
    }

    /// <summary>
    /// Word games on new words: each line names its word before it plays with it, as a question does before its answer, so
    /// the text rewards copying a word just seen (which no amount of learning words by heart replaces).
    /// </summary>
    private string WordGames(WorldRandom random)
    {
        var lines = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            var word = tasks.Word(WorldSplit.Train, random);
            lines.Add(random.Next(5) switch
            {
                0 => $"Take the word {word}. Backwards, {word} is {new string([.. word.Reverse()])}.",
                1 => $"Take the word {word}. In capital letters, {word} is {word.ToUpperInvariant()}.",
                2 => CountLine(word, random),
                3 => SortLine(random),
                _ => EchoLine(random),
            });
        }

        return string.Join('\n', lines);
    }

    private static string CountLine(string word, WorldRandom random)
    {
        char c = word[random.Next(word.Length)];
        int k = word.Count(x => x == c);
        return $"Count the letter {c} in {word}: the letter {c} appears {k} {(k == 1 ? "time" : "times")} in {word}.";
    }

    private string SortLine(WorldRandom random)
    {
        var words = Enumerable.Range(0, random.Next(3, 6)).Select(_ => tasks.Word(WorldSplit.Train, random)).ToList();
        return $"Sort {string.Join(", ", words)}. Sorted alphabetically: {string.Join(", ", words.Order(StringComparer.Ordinal))}.";
    }

    private string EchoLine(WorldRandom random)
    {
        var words = string.Join(' ', Enumerable.Range(0, random.Next(2, 5)).Select(_ => tasks.Word(WorldSplit.Train, random)));
        return $"Say after me: {words}. And I say: {words}.";
    }

    private string Dialogue(WorldRandom random)
    {
        var speakers = random.Sample(Speakers, 2);
        var lines = new List<string>();
        for (int i = 0, n = random.Next(2, 5); i < n; i++)
        {
            var task = tasks.Draft(random.Pick(HelpfulTasks.Families), WorldSplit.Train, random, "corpus").Task;
            lines.Add($"{speakers[0]}: {task.Prompt}");
            lines.Add($"{speakers[1]}: {task.Reference}");
        }

        return string.Join('\n', lines);
    }

    private static string Join(IReadOnlyList<string> items) =>
        items.Count == 1 ? items[0] : string.Join(", ", items.Take(items.Count - 1)) + " and " + items[^1];
}
