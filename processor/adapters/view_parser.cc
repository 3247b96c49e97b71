#include "processor/adapters/view_parser.h"

#include <pg_query.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "pg_query.pb.h"

namespace enrich::processor {
namespace {

// The nearest supported forms refusals point at.
constexpr char kJoinForm[] =
    "[LEFT] JOIN lookup l ON r.fk_column = l.key_column, or LEFT JOIN child "
    "ch ON r.key_column = ch.fk_column";
constexpr char kColumnForm[] =
    "a plain column alias.column of the root or a lookup, or one of count(*), "
    "count, sum, min, max, bool_or, bool_and, array_agg(col ORDER BY ...) over "
    "a child column, optionally with FILTER (WHERE simple predicate) and a "
    "cast";
constexpr char kGroupForm[] =
    "GROUP BY r.key_column [, l.key_column for each lookup]";
constexpr char kFilterForm[] =
    "FILTER (WHERE ch.col IS [NOT] NULL) or FILTER (WHERE ch.col <op> "
    "constant) with op one of = <> < <= > >=";

// Functions whose value changes with time or per call, not with the source
// rows: a stored row would go stale without any change event to refresh it.
const std::set<std::string>& VolatileFunctions() {
  static const auto* names = new std::set<std::string>{"random",
                                                       "now",
                                                       "clock_timestamp",
                                                       "timeofday",
                                                       "statement_timestamp",
                                                       "transaction_timestamp",
                                                       "gen_random_uuid",
                                                       "nextval",
                                                       "currval",
                                                       "setval",
                                                       "txid_current",
                                                       "pg_current_xact_id"};
  return *names;
}

// The leftmost `location` in a parse subtree (A_Expr's own location is its
// operator's, so the subtree is what finds the start of `a < b`), or -1.
// proto3 leaves out a location of 0, which is harmless: offset 0 of a view
// definition is its CREATE keyword, never a node classified here.
int StartOf(const google::protobuf::Message& message) {
  int start = INT_MAX;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT32 &&
        field->name() == "location" && !field->is_repeated()) {
      int location = reflection->GetInt32(message, field);
      if (location >= 0) start = std::min(start, location);
    } else if (field->cpp_type() ==
               google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          int inner =
              StartOf(reflection->GetRepeatedMessage(message, field, i));
          if (inner >= 0) start = std::min(start, inner);
        }
      } else {
        int inner = StartOf(reflection->GetMessage(message, field));
        if (inner >= 0) start = std::min(start, inner);
      }
    }
  }
  return start == INT_MAX ? -1 : start;
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

// Keywords that end an expression when met outside parentheses.
bool IsClauseKeyword(absl::string_view word) {
  static const auto* words = new std::set<std::string>{
      "as",     "from",   "where", "group",     "having", "order", "limit",
      "offset", "window", "union", "intersect", "except", "on",    "using",
      "left",   "right",  "full",  "inner",     "cross",  "join",  "natural"};
  return words->count(absl::AsciiStrToLower(word)) > 0;
}

// The type a cast names, as PostgreSQL's grammar spells it ("text",
// "pg_catalog.int4").
std::string TypeNameOf(const pg_query::TypeName& type) {
  std::vector<std::string> parts;
  for (const pg_query::Node& part : type.names()) {
    parts.push_back(part.string().sval());
  }
  return absl::StrJoin(parts, ".");
}

// `node`'s column when it is a column cast to a plain type name
// (`(c.v)::text`), with that type in `*cast`; else `node` itself and no
// cast.
const pg_query::Node& UncastColumn(const pg_query::Node& node,
                                   std::string* cast) {
  cast->clear();
  if (!node.has_type_cast() || !node.type_cast().arg().has_column_ref()) {
    return node;
  }
  const pg_query::TypeName& type = node.type_cast().type_name();
  if (type.typmods_size() > 0 || type.array_bounds_size() > 0) return node;
  *cast = TypeNameOf(type);
  return node.type_cast().arg();
}

bool IsText(const std::string& type) {
  return type == "text" || type == "pg_catalog.text";
}

class ViewClassifier {
 public:
  explicit ViewClassifier(absl::string_view sql) : sql_(sql) {}

  absl::StatusOr<ViewDefinition> Classify(const pg_query::ParseResult& tree);

 private:
  // A join waiting for GROUP BY to tell lookups from children.
  struct PendingJoin {
    ViewTable table;
    pg_query::JoinType kind;
    std::string root_column;
    std::string joined_column;
    int location;
  };

  // The source text of the expression starting at `location`, exactly as
  // written: up to the first `,`, unbalanced `)`, `;` or clause keyword
  // outside parentheses and quotes, without trailing white space.
  absl::string_view ExpressionAt(int location) const;
  // ExpressionAt for a message: on one line, cut to 160 characters.
  std::string FragmentAt(int location) const;
  absl::Status Refuse(int location, absl::string_view reason,
                      absl::string_view supported) const;
  absl::Status Refuse(const google::protobuf::Message& node,
                      absl::string_view reason,
                      absl::string_view supported) const {
    return Refuse(StartOf(node), reason, supported);
  }

  absl::Status CheckSelectClauses(const pg_query::SelectStmt& select);
  absl::StatusOr<ViewTable> TableOf(const pg_query::Node& item);
  absl::Status WalkFrom(const pg_query::Node& item);
  absl::Status ClassifyJoins(const pg_query::SelectStmt& select);
  absl::StatusOr<ViewColumnRef> ColumnOf(const pg_query::Node& node) const;
  absl::StatusOr<ViewOutputColumn> OutputColumnOf(
      const pg_query::ResTarget& target);
  absl::StatusOr<ViewAggregate> AggregateOf(const pg_query::FuncCall& call,
                                            const std::string& name);
  absl::StatusOr<ViewColumnRef> ChildColumnOf(const pg_query::Node& node,
                                              absl::string_view what);
  absl::StatusOr<AggregateFilter> FilterOf(const pg_query::Node& node);

  bool IsChild(absl::string_view alias) const {
    return view_.child.has_value() && view_.child->table.alias == alias;
  }
  bool IsKnownAlias(absl::string_view alias) const {
    return std::any_of(
        tables_.begin(), tables_.end(),
        [&](const ViewTable& table) { return table.alias == alias; });
  }

  absl::string_view sql_;
  ViewDefinition view_;
  std::vector<ViewTable> tables_;  // every FROM table, root first
  std::vector<PendingJoin> joins_;
};

absl::string_view ViewClassifier::ExpressionAt(int location) const {
  if (location < 0 || static_cast<size_t>(location) >= sql_.size()) {
    return "";
  }
  size_t begin = static_cast<size_t>(location);
  size_t end = begin;
  int depth = 0;
  while (end < sql_.size()) {
    char c = sql_[end];
    if (c == '\'' || c == '"') {
      size_t close = sql_.find(c, end + 1);
      end = close == absl::string_view::npos ? sql_.size() : close + 1;
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) break;
    if (depth == 0 && (c == ',' || c == ';')) break;
    if (depth == 0 && sql_.compare(end, 2, "--") == 0) break;
    if (depth == 0 && IsWordChar(c) && end > begin &&
        !IsWordChar(sql_[end - 1])) {
      size_t word_end = end;
      while (word_end < sql_.size() && IsWordChar(sql_[word_end])) ++word_end;
      if (IsClauseKeyword(sql_.substr(end, word_end - end))) break;
      end = word_end;
      continue;
    }
    ++end;
  }
  return absl::StripTrailingAsciiWhitespace(sql_.substr(begin, end - begin));
}

std::string ViewClassifier::FragmentAt(int location) const {
  std::string fragment(ExpressionAt(location));
  // One line per refusal: the fragment's own line breaks become spaces.
  for (char& c : fragment) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  constexpr size_t kMaxFragment = 160;
  if (fragment.size() > kMaxFragment) {
    fragment = absl::StrCat(fragment.substr(0, kMaxFragment), "...");
  }
  return fragment;
}

absl::Status ViewClassifier::Refuse(int location, absl::string_view reason,
                                    absl::string_view supported) const {
  // A statement's location is just after the previous `;`.
  while (location >= 0 && static_cast<size_t>(location) < sql_.size() &&
         absl::ascii_isspace(static_cast<unsigned char>(sql_[location]))) {
    ++location;
  }
  if (location < 0) {  // a node PostgreSQL keeps no position for
    return absl::InvalidArgumentError(
        absl::StrCat(reason, "; supported: ", supported));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(reason, ": `", FragmentAt(location), "` (offset ", location,
                   "); supported: ", supported));
}

absl::StatusOr<ViewDefinition> ViewClassifier::Classify(
    const pg_query::ParseResult& tree) {
  if (tree.stmts_size() != 1) {
    return Refuse(tree.stmts_size() > 1 ? tree.stmts(1).stmt_location() : 0,
                  "expected exactly one statement",
                  "one CREATE [MATERIALIZED] VIEW name AS SELECT ...");
  }
  const pg_query::RawStmt& raw = tree.stmts(0);
  const pg_query::Node* query = nullptr;
  const google::protobuf::RepeatedPtrField<pg_query::Node>* column_names =
      nullptr;
  const pg_query::RangeVar* name = nullptr;
  if (raw.stmt().has_view_stmt()) {
    const pg_query::ViewStmt& stmt = raw.stmt().view_stmt();
    name = &stmt.view();
    query = &stmt.query();
    column_names = &stmt.aliases();
  } else if (raw.stmt().has_create_table_as_stmt() &&
             raw.stmt().create_table_as_stmt().objtype() ==
                 pg_query::OBJECT_MATVIEW) {
    const pg_query::CreateTableAsStmt& stmt = raw.stmt().create_table_as_stmt();
    view_.materialized = true;
    name = &stmt.into().rel();
    query = &stmt.query();
    column_names = &stmt.into().col_names();
  } else {
    return Refuse(raw.stmt_location(), "not a view definition",
                  "CREATE [OR REPLACE] [MATERIALIZED] VIEW name AS SELECT ...");
  }
  view_.name = name->schemaname().empty()
                   ? name->relname()
                   : absl::StrCat(name->schemaname(), ".", name->relname());
  if (!query->has_select_stmt()) {
    return Refuse(*query, "the view's query is not a SELECT", "AS SELECT ...");
  }
  const pg_query::SelectStmt& select = query->select_stmt();
  if (absl::Status status = CheckSelectClauses(select); !status.ok()) {
    return status;
  }
  if (select.from_clause_size() != 1) {
    return Refuse(select.from_clause_size() > 1 ? StartOf(select.from_clause(1))
                                                : StartOf(select),
                  select.from_clause_size() > 1
                      ? "more than one FROM item (a comma join)"
                      : "no FROM clause",
                  absl::StrCat("FROM root r, then ", kJoinForm));
  }
  if (absl::Status status = WalkFrom(select.from_clause(0)); !status.ok()) {
    return status;
  }
  if (absl::Status status = ClassifyJoins(select); !status.ok()) {
    return status;
  }
  std::set<std::string> names;
  for (const pg_query::Node& item : select.target_list()) {
    absl::StatusOr<ViewOutputColumn> column = OutputColumnOf(item.res_target());
    if (!column.ok()) return column.status();
    view_.columns.push_back(*std::move(column));
  }
  if (column_names->size() > static_cast<int>(view_.columns.size())) {
    return Refuse(StartOf(*name), "more view column names than columns",
                  "one name per SELECT column");
  }
  for (int i = 0; i < column_names->size(); ++i) {
    view_.columns[i].name = column_names->Get(i).string().sval();
  }
  for (size_t i = 0; i < view_.columns.size(); ++i) {
    if (!names.insert(view_.columns[i].name).second) {
      return Refuse(
          StartOf(select.target_list(static_cast<int>(i))),
          absl::StrCat("duplicate column name \"", view_.columns[i].name, "\""),
          "distinct names, e.g. `l.title AS lookup_title`");
    }
  }
  return std::move(view_);
}

absl::Status ViewClassifier::CheckSelectClauses(
    const pg_query::SelectStmt& select) {
  if (select.op() != pg_query::SETOP_NONE) {
    return Refuse(select.has_rarg() ? StartOf(select.rarg()) : StartOf(select),
                  "UNION / INTERSECT / EXCEPT", "a single SELECT");
  }
  if (select.has_with_clause()) {
    return Refuse(select.with_clause(), "a WITH clause",
                  "the tables joined directly in FROM");
  }
  if (select.distinct_clause_size() > 0) {
    return Refuse(StartOf(select), "SELECT DISTINCT",
                  "GROUP BY the root's key");
  }
  if (select.has_where_clause()) {
    return Refuse(select.where_clause(), "a WHERE clause (not supported yet)",
                  "all root rows; filter where the view is read");
  }
  if (select.has_having_clause()) {
    return Refuse(select.having_clause(), "a HAVING clause",
                  "all root rows; filter where the view is read");
  }
  if (select.window_clause_size() > 0) {
    return Refuse(select.window_clause(0), "a WINDOW clause",
                  absl::StrCat("aggregates over the child: ", kColumnForm));
  }
  if (select.sort_clause_size() > 0) {
    return Refuse(select.sort_clause(0), "ORDER BY on the view",
                  "order where the view is read");
  }
  if (select.has_limit_count() || select.has_limit_offset()) {
    return Refuse(
        select.has_limit_count() ? select.limit_count() : select.limit_offset(),
        "LIMIT / OFFSET", "all root rows");
  }
  if (select.locking_clause_size() > 0 || select.values_lists_size() > 0 ||
      select.has_into_clause()) {
    return Refuse(StartOf(select), "FOR UPDATE, VALUES or SELECT INTO",
                  "a plain SELECT");
  }
  return absl::OkStatus();
}

absl::StatusOr<ViewTable> ViewClassifier::TableOf(const pg_query::Node& item) {
  if (item.has_range_subselect()) {
    // RangeSubselect carries no location: start at its opening parenthesis.
    int inner = StartOf(item);
    size_t open = sql_.rfind('(', inner < 0 ? 0 : inner);
    return Refuse(
        open == absl::string_view::npos ? inner : static_cast<int>(open),
        item.range_subselect().lateral() ? "a LATERAL subquery"
                                         : "a subquery in FROM",
        kJoinForm);
  }
  if (item.has_range_function()) {
    return Refuse(item, "a function in FROM", kJoinForm);
  }
  if (item.has_join_expr()) {
    return Refuse(item, "a parenthesized (nested) join",
                  absl::StrCat("joins one after another: ", kJoinForm));
  }
  if (!item.has_range_var()) {
    return Refuse(item, "not a table", kJoinForm);
  }
  const pg_query::RangeVar& range = item.range_var();
  ViewTable table;
  table.name = range.schemaname().empty()
                   ? range.relname()
                   : absl::StrCat(range.schemaname(), ".", range.relname());
  table.alias = range.has_alias() ? range.alias().aliasname() : range.relname();
  if (range.has_alias() && range.alias().colnames_size() > 0) {
    return Refuse(item, "renamed table columns", "an alias without columns");
  }
  if (IsKnownAlias(table.alias)) {
    return Refuse(item,
                  absl::StrCat("table alias \"", table.alias, "\" used twice"),
                  "one alias per table");
  }
  tables_.push_back(table);
  return table;
}

absl::Status ViewClassifier::WalkFrom(const pg_query::Node& item) {
  if (!item.has_join_expr()) {
    absl::StatusOr<ViewTable> root = TableOf(item);
    if (!root.ok()) return root.status();
    view_.root.table = *std::move(root);
    return absl::OkStatus();
  }
  const pg_query::JoinExpr& join = item.join_expr();
  if (absl::Status status = WalkFrom(join.larg()); !status.ok()) {
    return status;
  }
  absl::StatusOr<ViewTable> table = TableOf(join.rarg());
  if (!table.ok()) return table.status();
  if (join.jointype() != pg_query::JOIN_INNER &&
      join.jointype() != pg_query::JOIN_LEFT) {
    return Refuse(join.rarg(), "a RIGHT or FULL join", kJoinForm);
  }
  if (join.is_natural() || join.using_clause_size() > 0) {
    return Refuse(join.rarg(), "a NATURAL or USING join", kJoinForm);
  }
  if (!join.has_quals()) {
    return Refuse(join.rarg(), "a join without ON (a cross join)", kJoinForm);
  }
  const pg_query::Node& quals = join.quals();
  bool is_equality = quals.has_a_expr() &&
                     quals.a_expr().kind() == pg_query::AEXPR_OP &&
                     quals.a_expr().name_size() == 1 &&
                     quals.a_expr().name(0).string().sval() == "=";
  // pg_get_viewdef prints a join of a varchar column with a varchar or
  // text one with the varchar side cast to text (the operator is text's):
  // the comparison PostgreSQL picks without the cast too. (For other
  // types, a side that needed its cast makes the statements fail to plan
  // rather than compare differently; both sides cast from numeric, whose
  // text tells 1.5 from 1.50, is the exception: LookupJoin's note.)
  const pg_query::Node* lexpr = &quals.a_expr().lexpr();
  const pg_query::Node* rexpr = &quals.a_expr().rexpr();
  if (is_equality) {
    std::string cast;
    const pg_query::Node& l = UncastColumn(*lexpr, &cast);
    if (IsText(cast)) lexpr = &l;
    const pg_query::Node& r = UncastColumn(*rexpr, &cast);
    if (IsText(cast)) rexpr = &r;
  }
  if (!is_equality || !lexpr->has_column_ref() || !rexpr->has_column_ref()) {
    return Refuse(quals, "a join condition other than one column equality",
                  kJoinForm);
  }
  absl::StatusOr<ViewColumnRef> left = ColumnOf(*lexpr);
  if (!left.ok()) return left.status();
  absl::StatusOr<ViewColumnRef> right = ColumnOf(*rexpr);
  if (!right.ok()) return right.status();
  if (right->table_alias != table->alias) std::swap(*left, *right);
  const std::string& root_alias = view_.root.table.alias;
  if (right->table_alias != table->alias || left->table_alias != root_alias) {
    return Refuse(
        quals,
        absl::StrCat("a join condition that does not relate \"", table->alias,
                     "\" to the root \"", root_alias, "\""),
        kJoinForm);
  }
  joins_.push_back(PendingJoin{*std::move(table), join.jointype(), left->column,
                               right->column, StartOf(quals)});
  return absl::OkStatus();
}

// GROUP BY names the keys: the root's, and each lookup's (PostgreSQL only
// accepts a lookup's other columns ungrouped when that key is its primary
// key). A joined table on the root's key that is not grouped is the child.
absl::Status ViewClassifier::ClassifyJoins(const pg_query::SelectStmt& select) {
  std::vector<std::pair<ViewColumnRef, int>> grouped;
  for (const pg_query::Node& item : select.group_clause()) {
    if (!item.has_column_ref()) {
      return Refuse(item, "GROUP BY an expression (or GROUPING SETS)",
                    kGroupForm);
    }
    absl::StatusOr<ViewColumnRef> column = ColumnOf(item);
    if (!column.ok()) return column.status();
    grouped.emplace_back(*std::move(column), StartOf(item));
  }
  if (grouped.empty()) {
    // Without GROUP BY nothing in the text names the root's key; a catalog
    // could (VIEWS.md, next slices).
    return Refuse(
        select.target_list_size() > 0 ? StartOf(select.target_list(0)) : 0,
        "no GROUP BY, so the root's key is not named", kGroupForm);
  }
  const std::string& root_alias = view_.root.table.alias;
  for (const auto& [column, location] : grouped) {
    if (column.table_alias != root_alias) continue;
    if (!view_.root.key_column.empty()) {
      return Refuse(location, "GROUP BY more than one root column", kGroupForm);
    }
    view_.root.key_column = column.column;
  }
  if (view_.root.key_column.empty()) {
    return Refuse(grouped.front().second,
                  "GROUP BY does not name the root's key", kGroupForm);
  }
  std::set<std::string> lookup_aliases;
  for (const PendingJoin& join : joins_) {
    bool grouped_on_key =
        std::any_of(grouped.begin(), grouped.end(), [&](const auto& entry) {
          return entry.first ==
                 ViewColumnRef{join.table.alias, join.joined_column};
        });
    if (grouped_on_key) {
      view_.lookups.push_back(LookupJoin{join.table,
                                         join.kind == pg_query::JOIN_LEFT
                                             ? LookupJoinKind::kLeft
                                             : LookupJoinKind::kInner,
                                         join.root_column, join.joined_column});
      lookup_aliases.insert(join.table.alias);
      continue;
    }
    if (join.root_column != view_.root.key_column) {
      return Refuse(
          join.location,
          absl::StrCat("\"", join.table.alias,
                       "\" is neither a lookup (grouped by its join column) "
                       "nor a child (joined on the root's key \"",
                       view_.root.key_column, "\")"),
          absl::StrCat(kJoinForm, ", with ", kGroupForm));
    }
    if (join.kind != pg_query::JOIN_LEFT) {
      return Refuse(join.location,
                    "an inner join to a child table (drops roots without "
                    "children)",
                    "LEFT JOIN child ch ON r.key_column = ch.fk_column");
    }
    if (view_.child.has_value()) {
      return Refuse(join.location,
                    absl::StrCat("a second child table (\"", join.table.alias,
                                 "\" and \"", view_.child->table.alias,
                                 "\" multiply each other's rows: "
                                 "many-to-many)"),
                    "one child table per view");
    }
    view_.child = ChildJoin{join.table, join.joined_column};
  }
  for (const auto& [column, location] : grouped) {
    if (column.table_alias != root_alias &&
        lookup_aliases.count(column.table_alias) == 0) {
      return Refuse(location,
                    "GROUP BY a column that is not a root or lookup key "
                    "(more than one row per root)",
                    kGroupForm);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ViewColumnRef> ViewClassifier::ColumnOf(
    const pg_query::Node& node) const {
  const pg_query::ColumnRef& ref = node.column_ref();
  for (const pg_query::Node& field : ref.fields()) {
    if (field.has_a_star()) {
      return Refuse(node, "a * column list", "the columns named one by one");
    }
  }
  if (ref.fields_size() != 2) {
    return Refuse(node,
                  ref.fields_size() == 1 ? "an unqualified column"
                                         : "a schema-qualified column",
                  "alias.column, with the alias of its table in FROM");
  }
  ViewColumnRef column{ref.fields(0).string().sval(),
                       ref.fields(1).string().sval()};
  if (!IsKnownAlias(column.table_alias)) {
    return Refuse(
        node,
        absl::StrCat("no table \"", column.table_alias, "\" in FROM (so far)"),
        "alias.column, with the alias of a table joined before");
  }
  return column;
}

absl::StatusOr<ViewOutputColumn> ViewClassifier::OutputColumnOf(
    const pg_query::ResTarget& target) {
  ViewOutputColumn output;
  const pg_query::Node* value = &target.val();
  if (value->has_type_cast()) {
    const pg_query::TypeName& type = value->type_cast().type_name();
    if (type.typmods_size() > 0 || type.array_bounds_size() > 0) {
      return Refuse(*value, "a cast with type modifiers or array bounds",
                    "a cast to a plain type name, e.g. ::integer");
    }
    output.cast_type = TypeNameOf(type);
    value = &value->type_cast().arg();
  }
  if (value->has_column_ref()) {
    absl::StatusOr<ViewColumnRef> column = ColumnOf(*value);
    if (!column.ok()) return column.status();
    if (IsChild(column->table_alias)) {
      return Refuse(*value,
                    "a child column outside an aggregate (many values per "
                    "root row)",
                    kColumnForm);
    }
    output.name = target.name().empty() ? column->column : target.name();
    output.value = ProjectedColumn{*std::move(column)};
    return output;
  }
  if (value->has_func_call()) {
    const pg_query::FuncCall& call = value->func_call();
    std::string name = absl::AsciiStrToLower(
        call.funcname(call.funcname_size() - 1).string().sval());
    output.name = target.name().empty() ? name : target.name();
    absl::StatusOr<ViewAggregate> aggregate = AggregateOf(call, name);
    if (!aggregate.ok()) return aggregate.status();
    output.value = *std::move(aggregate);
    return output;
  }
  if (value->has_sqlvalue_function()) {
    return Refuse(*value,
                  "a volatile value (changes with time, not with the source "
                  "rows, so stored rows go stale)",
                  kColumnForm);
  }
  if (value->has_sub_link()) {
    return Refuse(target, "a subquery in the select list", kColumnForm);
  }
  return Refuse(target, "an expression", kColumnForm);
}

absl::StatusOr<ViewAggregate> ViewClassifier::AggregateOf(
    const pg_query::FuncCall& call, const std::string& name) {
  if (call.has_over()) {
    return Refuse(call, "a window function", kColumnForm);
  }
  static const auto* kinds =
      new std::vector<std::pair<std::string, AggregateKind>>{
          {"count", AggregateKind::kCount},
          {"sum", AggregateKind::kSum},
          {"min", AggregateKind::kMin},
          {"max", AggregateKind::kMax},
          {"bool_or", AggregateKind::kBoolOr},
          {"bool_and", AggregateKind::kBoolAnd},
          {"array_agg", AggregateKind::kArrayAgg}};
  auto kind =
      std::find_if(kinds->begin(), kinds->end(),
                   [&](const auto& entry) { return entry.first == name; });
  if (kind == kinds->end()) {
    if (VolatileFunctions().count(name) > 0) {
      return Refuse(call,
                    absl::StrCat("a volatile function ", name,
                                 "() (its value changes with time or per "
                                 "call, not with the source rows)"),
                    kColumnForm);
    }
    return Refuse(call, absl::StrCat("function ", name, "() is not supported"),
                  kColumnForm);
  }
  if (call.funcname_size() > 1 &&
      call.funcname(0).string().sval() != "pg_catalog") {
    return Refuse(call, "an aggregate from a schema other than pg_catalog",
                  kColumnForm);
  }
  if (!view_.child.has_value()) {
    return Refuse(call, "an aggregate without a child table",
                  "LEFT JOIN child ch ON r.key_column = ch.fk_column");
  }
  if (call.agg_distinct() || call.agg_within_group() || call.func_variadic()) {
    return Refuse(call, "DISTINCT, WITHIN GROUP or VARIADIC in an aggregate",
                  kColumnForm);
  }
  ViewAggregate aggregate;
  aggregate.kind = kind->second;
  if (call.agg_star()) {
    if (aggregate.kind != AggregateKind::kCount) {
      return Refuse(call, "* outside count(*)", kColumnForm);
    }
    aggregate.kind = AggregateKind::kCountStar;
  } else {
    if (call.args_size() != 1) {
      return Refuse(call, "an aggregate over other than one column",
                    kColumnForm);
    }
    absl::StatusOr<ViewColumnRef> argument =
        ChildColumnOf(UncastColumn(call.args(0), &aggregate.argument_cast),
                      "the aggregate's argument");
    if (!argument.ok()) return argument.status();
    aggregate.argument = *std::move(argument);
  }
  if (call.agg_order_size() > 0 && aggregate.kind != AggregateKind::kArrayAgg) {
    return Refuse(call.agg_order(0),
                  "ORDER BY in an aggregate other than "
                  "array_agg",
                  kColumnForm);
  }
  for (const pg_query::Node& item : call.agg_order()) {
    const pg_query::SortBy& sort = item.sort_by();
    if (sort.sortby_dir() == pg_query::SORTBY_USING) {
      return Refuse(item, "ORDER BY ... USING", "ORDER BY ch.col [DESC]");
    }
    absl::StatusOr<ViewColumnRef> column =
        ChildColumnOf(sort.node(), "an array_agg ORDER BY key");
    if (!column.ok()) return column.status();
    AggregateOrderKey key;
    key.column = *std::move(column);
    key.descending = sort.sortby_dir() == pg_query::SORTBY_DESC;
    if (sort.sortby_nulls() == pg_query::SORTBY_NULLS_FIRST) {
      key.nulls_first = true;
    } else if (sort.sortby_nulls() == pg_query::SORTBY_NULLS_LAST) {
      key.nulls_first = false;
    }
    aggregate.order_by.push_back(std::move(key));
  }
  if (call.has_agg_filter()) {
    absl::StatusOr<AggregateFilter> filter = FilterOf(call.agg_filter());
    if (!filter.ok()) return filter.status();
    aggregate.filter = *std::move(filter);
  }
  return aggregate;
}

absl::StatusOr<ViewColumnRef> ViewClassifier::ChildColumnOf(
    const pg_query::Node& node, absl::string_view what) {
  if (node.has_func_call()) {
    return Refuse(node,
                  absl::StrCat("a function call as ", what,
                               " (a nested aggregate or expression)"),
                  kColumnForm);
  }
  if (!node.has_column_ref()) {
    return Refuse(node, absl::StrCat("an expression as ", what), kColumnForm);
  }
  absl::StatusOr<ViewColumnRef> column = ColumnOf(node);
  if (!column.ok()) return column.status();
  if (!IsChild(column->table_alias)) {
    return Refuse(node,
                  absl::StrCat(what, " is not a column of the child table \"",
                               view_.child->table.alias, "\""),
                  kColumnForm);
  }
  return column;
}

absl::StatusOr<AggregateFilter> ViewClassifier::FilterOf(
    const pg_query::Node& node) {
  AggregateFilter filter;
  if (node.has_null_test()) {
    absl::StatusOr<ViewColumnRef> column =
        ChildColumnOf(node.null_test().arg(), "the FILTER column");
    if (!column.ok()) return column.status();
    filter.column = *std::move(column);
    filter.op = node.null_test().nulltesttype() == pg_query::IS_NULL
                    ? AggregateFilter::Op::kIsNull
                    : AggregateFilter::Op::kIsNotNull;
    return filter;
  }
  static const auto* ops =
      new std::vector<std::pair<std::string, AggregateFilter::Op>>{
          {"=", AggregateFilter::Op::kEqual},
          {"<>", AggregateFilter::Op::kNotEqual},
          {"!=", AggregateFilter::Op::kNotEqual},
          {"<", AggregateFilter::Op::kLess},
          {"<=", AggregateFilter::Op::kLessOrEqual},
          {">", AggregateFilter::Op::kGreater},
          {">=", AggregateFilter::Op::kGreaterOrEqual}};
  if (!node.has_a_expr() || node.a_expr().kind() != pg_query::AEXPR_OP ||
      node.a_expr().name_size() != 1) {
    return Refuse(node, "a FILTER condition that is not a simple predicate",
                  kFilterForm);
  }
  const pg_query::A_Expr& expr = node.a_expr();
  auto op = std::find_if(ops->begin(), ops->end(), [&](const auto& entry) {
    return entry.first == expr.name(0).string().sval();
  });
  const pg_query::Node* constant = &expr.rexpr();
  if (constant->has_type_cast()) constant = &constant->type_cast().arg();
  if (op == ops->end() || !constant->has_a_const()) {
    return Refuse(node, "a FILTER condition that is not a simple predicate",
                  kFilterForm);
  }
  absl::StatusOr<ViewColumnRef> column = ChildColumnOf(
      UncastColumn(expr.lexpr(), &filter.column_cast), "the FILTER column");
  if (!column.ok()) return column.status();
  filter.column = *std::move(column);
  filter.op = op->second;
  // The constant as written, verbatim: the display form FragmentAt gives
  // would turn a line break into a space and cut a long text.
  filter.constant = std::string(ExpressionAt(StartOf(expr.rexpr())));
  return filter;
}

// The byte offset of the `characters`-th UTF-8 character of `text` (the
// server encoding libpg_query assumes), or text.size() past the end.
size_t ByteOffsetOfCharacter(absl::string_view text, int characters) {
  size_t offset = 0;
  for (; offset < text.size(); ++offset) {
    bool starts_character =
        (static_cast<unsigned char>(text[offset]) & 0xC0) != 0x80;
    if (starts_character && characters-- == 0) break;
  }
  return offset;
}

absl::string_view FirstLine(absl::string_view text) {
  return text.substr(0, text.find('\n'));
}

}  // namespace

absl::StatusOr<ViewDefinition> ParseViewDefinition(absl::string_view sql) {
  const std::string text(sql);  // libpg_query wants a NUL-terminated string
  PgQueryProtobufParseResult result = pg_query_parse_protobuf(text.c_str());
  std::unique_ptr<PgQueryProtobufParseResult,
                  void (*)(PgQueryProtobufParseResult*)>
      owned(&result, [](PgQueryProtobufParseResult* r) {
        pg_query_free_protobuf_parse_result(*r);
      });
  if (result.error != nullptr) {
    // cursorpos counts characters (not bytes) from 1; 0 means no position.
    int position = result.error->cursorpos;
    std::string near;
    if (position > 0) {
      size_t offset = ByteOffsetOfCharacter(text, position - 1);
      if (offset < text.size()) {
        near = absl::StrCat(" at `", FirstLine(text.substr(offset, 40)),
                            "` (offset ", offset, ")");
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("syntax error: ", result.error->message, near));
  }
  pg_query::ParseResult tree;
  if (!tree.ParseFromArray(result.parse_tree.data,
                           static_cast<int>(result.parse_tree.len))) {
    return absl::InternalError(
        "libpg_query returned a parse tree pg_query.proto cannot read");
  }
  return ViewClassifier(sql).Classify(tree);
}

}  // namespace enrich::processor
